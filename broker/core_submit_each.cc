// BrokerCore: JOB_SUBMIT with `each`, many one-job submissions in one message (TitanClient.submit_many).
// Each job is carried out exactly as a JOB_SUBMIT of that job alone would be: its own checks, DAG id and
// journal rows, the files it names, and with a token the token "<token>/<index>" (so a resent message is
// answered job by job with what each was answered first). One refused job does not stop the others. All of
// them are journaled by this turn's one commit; should that fail, the turn is rolled back and the whole
// answer becomes UNAVAILABLE (RollBack), so no job is reported accepted that is not in the journal.
#include <string_view>
#include <unordered_map>

#include "artifacts/artifact_name.h"
#include "broker/broker_core.h"

namespace titan::broker {

namespace {

// A token's room for "/<index>": the derived tokens stay within Replay's 128 bytes.
constexpr size_t kMaxEachTokenBytes = 116;
// Jobs per message: keeps the answer (an outcome per job, a refusal's reason up to about 1 KiB) well within a
// body's limit.
constexpr size_t kMaxEachJobs = 1000;

// The name of the file `spec` runs, as ResolveFile looks it up: an archive job's project zip, else its file.
std::string FileNameOf(const wire::JobSpec& spec) {
  if (spec.archive.value_or(false)) {
    if (auto split = artifacts::SplitArchivePath(spec.file)) return split->archive;
  }
  return spec.file;
}

// The FileBlob of the message's files (indexed by name) that `spec` names, if there is one: none for a
// command job (it has no file), or for a job whose file was deployed rather than sent.
std::vector<wire::FileBlob> FilesOf(const std::unordered_map<std::string_view, const wire::FileBlob*>& files,
                                    const wire::JobSpec& spec) {
  if (!spec.command.value_or("").empty()) return {};
  const auto it = files.find(FileNameOf(spec));
  if (it == files.end()) return {};
  return {*it->second};
}

}  // namespace

Message BrokerCore::SubmitEach(const wire::JobSubmitMsg& req, Instant now) {
  if (req.jobs.empty()) return Invalid("the submission has no jobs; add at least one job");
  if (req.jobs.size() > kMaxEachJobs) {
    return Invalid("a submission with `each` carries at most " + std::to_string(kMaxEachJobs) +
                   " jobs; it has " + std::to_string(req.jobs.size()) + ": send them in several messages");
  }
  if (req.dag) {
    return Invalid(
        "a submission with `each` cannot have a DAG name: each of its jobs is a submission of its own; "
        "drop `dag`, or submit the jobs together without `each`");
  }
  if (req.token && (req.token->empty() || req.token->size() > kMaxEachTokenBytes)) {
    return Invalid("the submission's token is empty or longer than " + std::to_string(kMaxEachTokenBytes) +
                   " bytes (with `each`, \"/<index>\" is added for each job); use a fresh random one per "
                   "submission (a UUID), or none");
  }
  std::unordered_map<std::string_view, const wire::FileBlob*> files;  // by name: one look-up per job
  for (const wire::FileBlob& f : req.files) {
    if (!files.emplace(f.name, &f).second)
      return Invalid("file '" + f.name + "' appears twice in this submission; send each file once");
  }
  wire::JobAcceptedMsg answer{.submitted_ms = now.wall_ms};
  answer.each.emplace();
  answer.each->reserve(req.jobs.size());
  for (size_t i = 0; i < req.jobs.size(); ++i) {
    wire::JobSubmitMsg one{
        .jobs = {req.jobs[i]}, .files = FilesOf(files, req.jobs[i]), .agent_run_id = req.agent_run_id};
    if (req.token) one.token = *req.token + "/" + std::to_string(i);
    const Message reply = Submit(one, now);
    wire::SubmitOutcome outcome;
    if (Result<wire::JobAcceptedMsg> accepted = wire::JobAcceptedMsg::From(reply); accepted.ok()) {
      answer.ids.insert(answer.ids.end(), accepted->ids.begin(), accepted->ids.end());
      outcome.ids = std::move(accepted->ids);
      outcome.dag = std::move(accepted->dag);
    } else if (Result<wire::ErrorMsg> refused = wire::ErrorMsg::From(reply); refused.ok()) {
      outcome.error = std::move(refused->code);
      outcome.reason = std::move(refused->reason);
    } else {  // Submit answers one of the two
      outcome.error = std::string(wire::ErrorCodeName(wire::ErrorCode::kInternal));
      outcome.reason =
          "the broker made no answer of JOB_ACCEPTED or ERROR for this job; report this as a bug";
    }
    answer.each->push_back(std::move(outcome));
  }
  return std::move(answer).ToMessage();
}

}  // namespace titan::broker
