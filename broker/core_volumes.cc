// BrokerCore: volumes (docs/job-control.md, "Volumes"). The registry lives in the journal (a row per
// volume, its VolumeInfo as msgpack) and in volumes_; a volume belongs to one worker, which makes and
// deletes its directory when told (VOLUME_ENSURE after each registration and on create, VOLUME_DELETE on
// remove). A job naming volumes is checked at submission (they exist, on one worker) and is pinned to
// their worker at dispatch.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/volume_mount.h"
#include "broker/broker_core.h"

namespace titan::broker {
namespace {

std::string EncodeVolume(const wire::VolumeInfo& v) {
  wire::VolumeInfo stored = v;
  stored.path.reset();  // derived from the worker's volumes_dir
  stored.jobs.reset();  // derived from the jobs naming it
  std::string out;
  wire::EncodeMsgpack(stored.ToDatum(), &out);
  return out;
}

wire::VolumeSpec SpecOf(const wire::VolumeInfo& v) {
  return wire::VolumeSpec{.name = v.name, .type = v.type, .size_bytes = v.size_bytes};
}

}  // namespace

Status BrokerCore::RestoreVolume(const std::string& name, const std::string& blob) {
  wire::Datum d;
  std::string error;
  if (!wire::DecodeMsgpack(blob, 1 << 16, &d, &error)) return Status::Invalid("does not decode: " + error);
  Result<wire::VolumeInfo> v = wire::VolumeInfo::From(d, "volume");
  if (!v.ok()) return Status::Invalid(v.message());
  if (v->name != name) return Status::Invalid("names volume '" + v->name + "'");
  volumes_[name] = std::move(v).value();
  return Status::Ok();
}

std::vector<std::string> BrokerCore::VolumeUsers(const std::string& name) const {
  std::vector<std::string> users;
  for (const auto& [id, job] : jobs_) {
    if (IsFinal(job.state) || !job.spec.volumes) continue;
    for (const std::string& v : *job.spec.volumes) {
      Result<VolumeMount> m = ParseVolumeMount(v);
      if (m.ok() && m->name == name) users.push_back(id);
    }
  }
  std::sort(users.begin(), users.end());
  return users;
}

wire::VolumeInfo BrokerCore::RenderVolume(const wire::VolumeInfo& v) const {
  wire::VolumeInfo out = v;
  if (auto w = workers_.find(v.worker); w != workers_.end() && !w->second.volumes_dir.empty())
    out.path = w->second.volumes_dir + "/" + v.name;
  std::vector<std::string> users = VolumeUsers(v.name);
  if (!users.empty()) out.jobs = std::move(users);
  return out;
}

std::optional<wire::Message> BrokerCore::WriteVolumeRow(const std::function<Status()>& write) {
  Status s = journal_->BeginIfNeeded();
  if (s.ok()) s = write();
  if (s.ok()) return std::nullopt;
  JournalFailed(s);  // a full disk: the turn is rolled back, this answer with it
  return wire::MakeError(ErrorCode::kUnavailable, "journal unavailable (" + s.message() + "); retry later");
}

wire::Message BrokerCore::VolumeList() const {
  wire::VolumeListReplyMsg reply;
  for (const auto& [name, v] : volumes_) reply.volumes.push_back(RenderVolume(v));
  return std::move(reply).ToMessage();
}

wire::Message BrokerCore::VolumeCreate(const wire::VolumeCreateMsg& req, Instant now) {
  if (Status s = CheckVolumeName(req.name); !s.ok()) return Invalid(s.message());
  if (volumes_.count(req.name))
    return Invalid("volume '" + req.name + "' exists already (on worker " + volumes_.at(req.name).worker +
                   "); remove it first (`titan volume rm " + req.name + "`) or choose another name");
  std::string type = req.type.value_or("");
  if (type.empty()) type = "filesystem";
  if (type != "filesystem" && type != "memory")
    return Invalid("volume type '" + type + "' is unknown; use filesystem (a directory) or memory (a tmpfs)");
  wire::VolumeInfo v{.name = req.name, .type = type, .created_ms = now.wall_ms};
  if (const std::string size = req.size.value_or(""); !size.empty()) {
    Result<int64_t> bytes = ParseVolumeSize(size);
    if (!bytes.ok()) return Invalid(bytes.message());
    v.size = size;
    v.size_bytes = *bytes;
  } else if (type == "memory") {
    return Invalid("a memory volume needs a size (e.g. --size 256MB): it is a tmpfs of that size");
  }
  const Worker* holder = nullptr;
  if (const std::string asked = req.worker.value_or(""); !asked.empty()) {
    auto w = workers_.find(asked);
    if (w == workers_.end() || w->second.draining)
      return Invalid("worker '" + asked +
                     "' is not live; name a live worker (`titan stats`) or leave --worker out");
    holder = &w->second;
  } else {
    for (const auto& [name, w] : workers_) {  // least loaded live worker; ties: name order
      if (!w.draining &&
          (holder == nullptr || w.running.size() * holder->slots < holder->running.size() * w.slots))
        holder = &w;
    }
    if (holder == nullptr)
      return Invalid("no live worker to hold volume '" + req.name + "'; start one (`titan worker`) first");
  }
  v.worker = holder->name;
  if (auto refused = WriteVolumeRow([&] { return journal_->PutVolume(v.name, EncodeVolume(v)); }))
    return *refused;
  volumes_[v.name] = v;
  SendWorker(*holder, wire::VolumeEnsureMsg{.volumes = {SpecOf(v)}}.ToMessage());
  spdlog::info("broker: volume {} ({}{}) created on worker {}", v.name, type, v.size ? " " + *v.size : "",
               v.worker);
  return wire::VolumeListReplyMsg{.volumes = {RenderVolume(v)}}.ToMessage();
}

wire::Message BrokerCore::VolumeRemove(const std::string& name) {
  auto it = volumes_.find(name);
  if (it == volumes_.end())
    return wire::MakeError(ErrorCode::kNotFound, "no volume '" + name + "'; see `titan volume list`");
  if (std::vector<std::string> users = VolumeUsers(name); !users.empty()) {
    std::string list;
    for (const std::string& id : users) list += (list.empty() ? "" : ", ") + id;
    return Invalid("volume '" + name + "' is in use by unfinished jobs: " + list +
                   "; wait for them to end or stop them (`titan stop ID`), then remove it");
  }
  if (auto refused = WriteVolumeRow([&] { return journal_->DeleteVolume(name); })) return *refused;
  const std::string holder = it->second.worker;
  volumes_.erase(it);
  // A worker that is away keeps the directory until an operator deletes it (the docs say where).
  if (auto w = workers_.find(holder); w != workers_.end())
    SendWorker(w->second, wire::VolumeDeleteMsg{.name = name}.ToMessage());
  spdlog::info("broker: volume {} removed (worker {})", name, holder);
  return wire::OkMsg{}.ToMessage();
}

void BrokerCore::SendVolumesTo(const Worker& w) {
  wire::VolumeEnsureMsg ensure;
  for (const auto& [name, v] : volumes_) {
    if (v.worker == w.name) ensure.volumes.push_back(SpecOf(v));
  }
  if (!ensure.volumes.empty()) SendWorker(w, std::move(ensure).ToMessage());
}

std::optional<wire::Message> BrokerCore::CheckJobVolumes(const wire::JobSpec& spec) const {
  if (!spec.volumes) return std::nullopt;
  std::string holder, first;
  for (const std::string& entry : *spec.volumes) {
    Result<VolumeMount> m = ParseVolumeMount(entry);  // PayloadProblem checked the spelling
    if (!m.ok()) return Invalid("job '" + spec.id + "': " + m.message());
    auto v = volumes_.find(m->name);
    if (v == volumes_.end())
      return Invalid("job '" + spec.id + "': volume '" + m->name +
                     "' does not exist; create it first (`titan volume create " + m->name + "`)");
    if (!holder.empty() && v->second.worker != holder)
      return Invalid("job '" + spec.id + "': volumes '" + first + "' and '" + m->name +
                     "' are on different workers (" + holder + ", " + v->second.worker +
                     "); a job runs on one worker, so use volumes of one worker");
    holder = v->second.worker;
    first = m->name;
  }
  return std::nullopt;
}

std::string BrokerCore::VolumeWorker(const Job& job) const {
  if (!job.spec.volumes) return {};
  for (const std::string& entry : *job.spec.volumes) {
    Result<VolumeMount> m = ParseVolumeMount(entry);
    if (!m.ok()) continue;
    if (auto v = volumes_.find(m->name); v != volumes_.end()) return v->second.worker;
  }
  return {};
}

}  // namespace titan::broker
