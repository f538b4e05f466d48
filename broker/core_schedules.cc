// BrokerCore: recurring schedules. A schedule is a cron expression and a set of job specs; at each
// tick the jobs are submitted as DAG "<name>@<time>" with ids "<id>@<time>". Schedules are journaled
// with the time they last fired, so after a restart a missed tick runs once (not once per missed tick).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>

#include "broker/broker_core.h"
#include "broker/job_payload.h"

namespace titan::broker {

namespace {

// "20261123T0130Z": the suffix of the jobs one tick submits.
std::string Stamp(int64_t ms) { return FormatUtc(ms, "%Y%m%dT%H%MZ"); }

// The journal's record of a schedule: SCHEDULE_ADD's cron, jobs, files and dag, and when it was
// created. A map of the journal's own (DecodeSchedule reads it back), so its keys are written here.
// A disabled schedule adds "enabled": false; one enabled again adds "resumed_ms".
std::string Definition(const std::string& cron, const std::vector<wire::JobSpec>& jobs,
                       const std::vector<wire::FileBlob>& files, int64_t created_ms, const std::string& dag,
                       bool enabled, int64_t resumed_ms) {
  wire::List job_list, file_list;
  for (const auto& j : jobs) job_list.push_back(j.ToDatum());
  for (const auto& f : files) file_list.push_back(f.ToDatum());
  wire::Map m{{"cron", Datum(Text{cron})},
              {"jobs", Datum(std::move(job_list))},
              {"files", Datum(std::move(file_list))},
              {"created_ms", Datum(created_ms)}};
  if (!dag.empty()) m.emplace_back("dag", Datum(Text{dag}));
  if (!enabled) m.emplace_back("enabled", Datum(false));
  if (resumed_ms > 0) m.emplace_back("resumed_ms", Datum(resumed_ms));
  std::string out;
  wire::EncodeMsgpack(Datum(std::move(m)), &out);
  return out;
}

// The spec a tick submits: its id and parents suffixed with the tick's stamp.
wire::JobSpec TickSpec(wire::JobSpec spec, const std::string& suffix) {
  spec.id += suffix;
  if (spec.parents) {
    for (auto& p : *spec.parents) p += suffix;
  }
  return spec;
}

}  // namespace

Message BrokerCore::ScheduleAdd(const wire::ScheduleAddMsg& req, Instant now) {
  const std::string& name = req.name;
  if (name.empty() || name.find('@') != std::string::npos) {
    return Invalid("schedule name '" + name + "' must be non-empty and without '@'");
  }
  std::string error;
  auto spec = ParseCron(req.cron, &error);
  if (!spec) return Invalid(error);
  if (auto refused = CheckScheduleJobs(name, req.jobs, req.files)) return *refused;
  Schedule& s = schedules_[name];
  s.name = name;
  s.cron = req.cron;
  s.spec = *spec;
  s.jobs = req.jobs;
  s.files = req.files;
  s.dag = req.dag.value_or("");
  s.created_ms = s.last_ms = now.wall_ms;  // a new schedule first fires at its next tick, not at once
  s.next_ms = NextCronTime(s.spec, now.wall_ms);
  SaveSchedule(s);
  if (s.next_ms > 0) ArmWallTimer(TimerKind::kSchedule, name, 0, s.next_ms, now);
  spdlog::info("broker: schedule {} '{}' next fires at {}", name, s.cron, Stamp(s.next_ms));
  return wire::OkMsg{}.ToMessage();
}

std::optional<Message> BrokerCore::CheckScheduleJobs(const std::string& name,
                                                     const std::vector<wire::JobSpec>& jobs,
                                                     const std::vector<wire::FileBlob>& files) {
  if (jobs.empty()) return Invalid("schedule '" + name + "' has no jobs; add at least one");
  std::unordered_map<std::string, std::string> sent;  // file name -> hash
  if (auto refused = HashFiles(files, &sent)) return refused;
  std::vector<Job> probes(jobs.size());
  std::set<std::string> ids;
  for (size_t i = 0; i < jobs.size(); ++i) {
    Job& probe = probes[i];
    probe.spec = jobs[i];
    ApplySpec(probe);
    probe.id = *ids.emplace(probe.spec.id).first;
    if (std::string problem = PayloadProblem(probe.spec); !problem.empty())
      return Invalid("schedule '" + name + "': job '" + probe.id + "': " + problem);
    // A file not sent must be deployed now; each tick runs what is deployed under that name then.
    if (auto refused = IsCommandJob(probe.spec) ? std::nullopt : ResolveFile(probe, sent)) return refused;
  }
  for (const Job& probe : probes) {
    for (const auto& p : probe.parents) {
      if (!ids.count(p)) return Invalid("schedule '" + name + "': parent '" + p + "' is not one of its jobs");
    }
  }
  return std::nullopt;
}

Message BrokerCore::ScheduleList() const {
  wire::ScheduleListReplyMsg reply;
  for (const auto& [name, s] : schedules_) {
    reply.schedules.push_back(
        wire::ScheduleInfo{.name = name,
                           .cron = s.cron,
                           .jobs = static_cast<int64_t>(s.jobs.size()),
                           .next_ms = s.next_ms,
                           .last_ms = s.last_ms > s.created_ms ? std::optional(s.last_ms) : std::nullopt,
                           .enabled = s.enabled});
  }
  return std::move(reply).ToMessage();
}

Message BrokerCore::ScheduleEnable(const wire::ScheduleEnableMsg& req, Instant now) {
  auto it = schedules_.find(req.name);
  if (it == schedules_.end()) return Invalid("no schedule '" + req.name + "'; see `titan schedules`");
  Schedule& s = it->second;
  if (s.enabled == req.enabled) return wire::OkMsg{}.ToMessage();
  s.enabled = req.enabled;
  if (s.enabled) {  // from its next tick on; what it missed while disabled is not owed
    s.resumed_ms = now.wall_ms;
    s.next_ms = NextCronTime(s.spec, now.wall_ms);
    if (s.next_ms > 0) ArmWallTimer(TimerKind::kSchedule, s.name, 0, s.next_ms, now);
  }
  SaveSchedule(s);
  spdlog::info("broker: schedule {} {}", s.name, s.enabled ? "enabled" : "disabled");
  return wire::OkMsg{}.ToMessage();
}

Message BrokerCore::ScheduleRemove(const std::string& name) {
  if (!schedules_.erase(name)) return Invalid("no schedule '" + name + "'; see `titan schedules`");
  if (Status st = journal_->BeginIfNeeded(); st.ok()) JournalFailed(journal_->DeleteSchedule(name));
  return wire::OkMsg{}.ToMessage();  // its pending timer finds no schedule and does nothing
}

void BrokerCore::SaveSchedule(const Schedule& s) {
  if (Status st = journal_->BeginIfNeeded(); !st.ok()) return;
  const bool secret =
      std::any_of(s.jobs.begin(), s.jobs.end(), [](const wire::JobSpec& j) { return j.secret_env; });
  if (Status st = journal_->PutSchedule(
          s.name, Definition(s.cron, s.jobs, s.files, s.created_ms, s.dag, s.enabled, s.resumed_ms),
          s.last_ms, secret);
      !st.ok()) {
    spdlog::error("broker: journal: {}", st.message());
    JournalFailed(st);
  }
}

void BrokerCore::FireSchedule(Schedule& s, Instant now) {
  const std::string suffix = "@" + Stamp(now.wall_ms);
  wire::JobSubmitMsg submit{.files = s.files, .dag = (s.dag.empty() ? s.name : s.dag) + suffix};
  for (const wire::JobSpec& spec : s.jobs) submit.jobs.push_back(TickSpec(spec, suffix));
  const Message reply = Submit(submit, now);
  if (Status refused = wire::StatusOf(reply); !refused.ok()) {
    spdlog::error("broker: schedule {} could not submit its jobs: {}", s.name, refused.message());
  } else {
    spdlog::info("broker: schedule {} fired: DAG {}", s.name, *submit.dag);
  }
  s.last_ms = now.wall_ms;
  s.next_ms = NextCronTime(s.spec, now.wall_ms);
  SaveSchedule(s);
  if (s.next_ms > 0) ArmWallTimer(TimerKind::kSchedule, s.name, 0, s.next_ms, now);
}

Result<BrokerCore::Schedule> BrokerCore::DecodeSchedule(std::string name, const std::string& definition,
                                                        int64_t last_ms) {
  Datum d;
  std::string error;
  if (!wire::DecodeMsgpack(definition, 1 << 24, &d, &error))
    return Status::Invalid("has a definition that does not decode (" + error + ")");
  const auto* m = std::get_if<wire::Map>(&d.v);
  if (m == nullptr) return Status::Invalid("has a definition that is not a map");
  // What SCHEDULE_ADD carried: checked against the schema as it was then, so firing it cannot fail on
  // a field of the wrong type. The definition is the journal's map (Definition), read by name.
  Message add = wire::MakeMessage(MsgType::kScheduleAdd).Set("name", Datum(Text{name}));
  for (const auto& [k, v] : *m) {
    if (k == "cron" || k == "jobs" || k == "files" || k == "dag") add.Set(k, v);
  }
  if (!wire::Validate(add, &error))
    return Status::Invalid("has a definition the schema refuses (" + error + ")");
  const Datum* created = wire::FindField(*m, "created_ms");
  if (created != nullptr && !std::holds_alternative<int64_t>(created->v))
    return Status::Invalid("has a definition whose created_ms is not an integer");
  const Datum* enabled = wire::FindField(*m, "enabled");
  if (enabled != nullptr && !std::holds_alternative<bool>(enabled->v))
    return Status::Invalid("has a definition whose enabled is not a boolean");
  const Datum* resumed = wire::FindField(*m, "resumed_ms");
  if (resumed != nullptr && !std::holds_alternative<int64_t>(resumed->v))
    return Status::Invalid("has a definition whose resumed_ms is not an integer");
  Result<wire::ScheduleAddMsg> typed = wire::ScheduleAddMsg::From(add);
  if (!typed.ok()) return Status::Invalid("has a definition the schema refuses (" + typed.message() + ")");
  Schedule s;
  s.name = std::move(name);
  s.cron = typed->cron;
  s.jobs = std::move(typed->jobs);
  s.files = std::move(typed->files);
  s.dag = typed->dag.value_or("");
  s.created_ms = created != nullptr ? std::get<int64_t>(created->v) : 0;
  s.enabled = enabled == nullptr || std::get<bool>(enabled->v);
  s.resumed_ms = resumed != nullptr ? std::get<int64_t>(resumed->v) : 0;
  s.last_ms = last_ms;
  auto spec = ParseCron(s.cron, &error);
  if (!spec) return Status::Invalid("has a cron expression that does not parse (" + error + ")");
  s.spec = *spec;
  return s;
}

void BrokerCore::RestoreSchedule(Schedule s, Instant now) {
  const std::string name = s.name;
  Schedule& stored = schedules_[name] = std::move(s);
  if (!stored.enabled) {  // shown with the tick it would fire at; armed when enabled again
    stored.next_ms = NextCronTime(stored.spec, now.wall_ms);
    return;
  }
  const int64_t missed = NextCronTime(stored.spec, std::max(stored.last_ms, stored.resumed_ms));
  if (missed > 0 && missed <= now.wall_ms && !read_only_.active()) {  // read-only: its timer waits
    spdlog::info("broker: schedule {} missed its tick while the broker was down; running it once now", name);
    FireSchedule(stored, now);  // also arms the next tick
    return;
  }
  stored.next_ms = missed;
  if (stored.next_ms > 0) ArmWallTimer(TimerKind::kSchedule, name, 0, stored.next_ms, now);
}

}  // namespace titan::broker
