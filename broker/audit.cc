// The audit row of a client's request: which requests are recorded, and what each names as its target.
#include "broker/audit.h"

#include <algorithm>

#include "security/audit_log.h"

namespace titan::broker {
namespace {

using wire::Message;
using wire::MsgType;

constexpr size_t kMaxIdsShown = 20;  // a submission of thousands of jobs is one bounded row

// "a,b,c" from a list of ids, at most kMaxIdsShown, then " (+N more)".
std::string Ids(const std::vector<std::string>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < kMaxIdsShown; ++i) out += (i ? "," : "") + ids[i];
  if (ids.size() > kMaxIdsShown) out += " (+" + std::to_string(ids.size() - kMaxIdsShown) + " more)";
  return out;
}

// JOB_SUBMIT: the DAG and the ids created (with `each`, and how many of its jobs were refused); refused, the
// ids asked for (read from the body, without decoding the files that travel with them).
std::string SubmitTarget(const Message& req, const Message& reply) {
  std::vector<std::string> ids;
  std::string dag(req.Bytes("dag"));
  if (const Result<wire::JobAcceptedMsg> accepted = wire::JobAcceptedMsg::From(reply); accepted.ok()) {
    ids = accepted->ids;
    if (accepted->dag) dag = *accepted->dag;
    if (accepted->each) {
      const auto refused = std::count_if(accepted->each->begin(), accepted->each->end(),
                                         [](const wire::SubmitOutcome& o) { return o.error.has_value(); });
      if (refused > 0) return "jobs=" + Ids(ids) + " refused=" + std::to_string(refused);
    }
  } else if (const wire::Datum* jobs = req.Find("jobs"); jobs != nullptr) {
    if (const auto* list = std::get_if<wire::List>(&jobs->v)) {
      for (const wire::Datum& job : *list) {
        if (const auto* spec = std::get_if<wire::Map>(&job.v)) ids.push_back(wire::FieldStr(*spec, "id"));
      }
    }
  }
  return (dag.empty() ? "" : "dag=" + dag + " ") + "jobs=" + Ids(ids);
}

std::string ArtifactName(const Message& req) {
  return std::string(req.Bytes("space")) + "/" + std::string(req.Bytes("name"));
}

std::string Target(const Message& req, const Message& reply) {
  switch (req.type) {
    case MsgType::kJobSubmit:
      return SubmitTarget(req, reply);
    case MsgType::kGateDecide:
      return std::string(req.Bytes("id")) + (req.Bool("approve") ? " approve" : " reject");
    case MsgType::kWorkerAdd: {
      const Result<wire::OkMsg> ok = wire::OkMsg::From(reply);
      if (ok.ok() && ok->name) return *ok->name;
      return req.Has("port") ? "port=" + std::to_string(req.Int("port")) : "";
    }
    case MsgType::kArtifactPut: {
      const Result<wire::ArtifactUploadMsg> upload = wire::ArtifactUploadMsg::From(reply);
      return ArtifactName(req) + (upload.ok() ? " upload=" + upload->upload : "");
    }
    case MsgType::kArtifactCommit: {
      const Result<wire::ArtifactInfoMsg> info = wire::ArtifactInfoMsg::From(reply);
      const std::string upload = "upload=" + std::string(req.Bytes("upload"));
      return info.ok() ? info->artifact.space + "/" + info->artifact.name + " " + upload : upload;
    }
    case MsgType::kArtifactAbort:
    case MsgType::kArtifactChunk:
      return "upload=" + std::string(req.Bytes("upload"));
    case MsgType::kArtifactDelete:
      return ArtifactName(req);
    default:  // JOB_STOP, SERVICE_RESTART, DAG_CANCEL, DAG_RERUN (id), WORKER_STOP, SCHEDULE_* (name),
              // refused reads
      return std::string(req.Has("id") ? req.Bytes("id") : req.Bytes("name"));
  }
}

}  // namespace

std::optional<wire::AuditEntry> AuditOf(const std::string& principal, const Message& request,
                                        const Message& reply, int64_t wall_ms) {
  if (!security::IsAudited(request, reply)) return std::nullopt;
  if (request.type == MsgType::kArtifactChunk && security::AuditOutcome(reply) != "FORBIDDEN")
    return std::nullopt;
  return security::AuditRow(principal, request, reply, wall_ms, Target(request, reply));
}

}  // namespace titan::broker
