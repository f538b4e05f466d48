// BrokerCoreTest: a BrokerCore on a real journal in a temp dir, driven by hand with a fake clock.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>

#include "base/test_dir.h"
#include "broker/broker_core.h"

namespace titan::broker {

inline Datum S(const std::string& s) { return Datum(Text{s}); }

inline Datum StrList(const std::vector<std::string>& v) {
  wire::List l;
  for (const auto& s : v) l.push_back(S(s));
  return Datum(std::move(l));
}

// The broker's two clocks, driven by the test. `now_ += ms` is time passing (both move); setting
// wall_ms alone is the wall clock being set (by an operator, NTP). The monotonic clock starts far from
// the wall clock, as it does in life, so a reading of the wrong clock shows in the results.
struct FakeClock {
  int64_t mono_ms = 7'000'000'000;  // since boot
  int64_t wall_ms = 1'000'000;      // 1970-01-01 00:16:40 UTC
  FakeClock& operator+=(int64_t ms) {
    mono_ms += ms;
    wall_ms += ms;
    return *this;
  }
  operator Instant() const { return Instant{mono_ms, wall_ms}; }  // NOLINT: what the core takes
};

struct JobArgs {
  std::string id;
  std::vector<std::string> parents = {};
  int64_t priority = 1;
  std::string requirement = "GENERAL";
  int64_t delay_ms = 0;
  int64_t retries = 0;
  bool affinity = false;
  std::string hitl = {};   // hitl_message: a gate after this job
  int64_t max_wait_s = 0;  // 0: the default
};

class BrokerCoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  // Opens the journal and recovers a core from it, as a broker start does; the first error.
  Status Start() {
    core_.reset();
    journal_ = std::make_unique<Journal>();
    if (Status s = journal_->Open(dir_.File("broker.db")); !s.ok()) return s;
    logs_ = std::make_unique<LogStore>(dir_.File("logs"));
    auto artifacts = ArtifactService::Open(dir_.File("artifacts"), ArtifactLimits{});
    if (!artifacts.ok()) return artifacts.status();
    artifacts_ = std::move(artifacts.value());
    core_ = std::make_unique<BrokerCore>(config_, journal_.get(), logs_.get(), artifacts_.get());
    return core_->Recover(now_);
  }

  void Open() {
    const Status s = Start();
    ASSERT_TRUE(s.ok()) << s.message();
  }

  // The broker stops (as after kill -9: only what was committed survives) and starts again.
  void Stop() {
    core_.reset();
    journal_.reset();
  }

  // Ends a loop turn the way the node does: dispatch, commit, hand back the outbox.
  std::vector<Outgoing> Turn() {
    core_->OnTick(now_);
    EXPECT_TRUE(core_->CommitTurn().ok());
    EXPECT_EQ(0, core_->refused_transitions()) << "an illegal state transition was refused (see the log)";
    auto out = core_->TakeOutbox();
    for (const auto& o : out) sent_.push_back(o);
    return out;
  }

  Message Client(Message req) {
    core_->OnClient({"client"}, 1, req, now_);
    for (const auto& o : Turn()) {
      if (o.kind == Outgoing::kClient) return o.msg;
    }
    return wire::MakeMessage(MsgType::kOk);  // deferred (JOB_WAIT)
  }

  Message Submit(const std::vector<JobArgs>& jobs, const std::string& dag = "", const std::string& run = "") {
    wire::List specs;
    for (const auto& j : jobs) {
      wire::Map m = {{"id", S(j.id)},
                     {"file", S("job.sh")},
                     {"priority", Datum(j.priority)},
                     {"requirement", S(j.requirement)},
                     {"delay_ms", Datum(j.delay_ms)},
                     {"retries", Datum(j.retries)},
                     {"affinity", Datum(j.affinity)},
                     {"parents", StrList(j.parents)}};
      if (!j.hitl.empty()) m.emplace_back("hitl_message", S(j.hitl));
      if (j.max_wait_s) m.emplace_back("max_wait_s", Datum(j.max_wait_s));
      specs.push_back(Datum(std::move(m)));
    }
    Message req = wire::MakeMessage(MsgType::kJobSubmit);
    req.Set("jobs", Datum(std::move(specs)));
    req.Set("files", Datum(wire::List{Datum(
                         wire::Map{{"name", S("job.sh")}, {"content", Datum(wire::Bytes{"exit 0"})}})}));
    if (!dag.empty()) req.Set("dag", S(dag));
    if (!run.empty()) req.Set("agent_run_id", S(run));
    return Client(std::move(req));
  }

  void Join(const std::string& name, int slots, std::vector<std::string> caps = {"GENERAL"},
            wire::List running = {}, wire::List finished = {}, const std::string& parent = "") {
    Message m = wire::MakeMessage(MsgType::kWorkerReady);
    if (!parent.empty()) m.Set("parent", S(parent));
    m.Set("name", S(name)).Set("host", S("h")).Set("pid", Datum(1)).Set("slots", Datum(slots));
    m.Set("capabilities", StrList(caps))
        .Set("running", Datum(std::move(running)))
        .Set("finished", Datum(std::move(finished)));
    core_->OnWorker("id-" + name, m, now_);
    Turn();
  }

  void Done(const std::string& worker, const std::string& id, int64_t exit_code, int64_t attempt = 1,
            bool cancelled = false) {
    Message m = wire::MakeMessage(MsgType::kJobDone);
    m.Set("result", Datum(wire::Map{{"id", S(id)},
                                    {"attempt", Datum(attempt)},
                                    {"exit_code", Datum(exit_code)},
                                    {"signal", Datum(0)},
                                    {"cancelled", Datum(cancelled)}}));
    core_->OnWorker("id-" + worker, m, now_);
    Turn();
  }

  // The state DAG_GET reports for DAG `id`; "UNKNOWN" when there is none.
  std::string DagState(const std::string& id) {
    const Message m = Client(wire::MakeMessage(MsgType::kDagGet).Set("id", S(id)));
    if (!m.Bool("found")) return "UNKNOWN";
    for (const auto& [k, v] : std::get<wire::Map>(m.Find("dag")->v)) {
      if (k == "state") return std::string(v.bytes());
    }
    return "?";
  }

  // SCHEDULE_ADD of `jobs` (each running job.sh) on `cron`.
  Message AddSchedule(const std::string& name, const std::string& cron, const std::vector<JobArgs>& jobs,
                      const std::string& dag = "") {
    wire::List specs;
    for (const auto& j : jobs) {
      specs.push_back(
          Datum(wire::Map{{"id", S(j.id)}, {"file", S("job.sh")}, {"parents", StrList(j.parents)}}));
    }
    Message req = wire::MakeMessage(MsgType::kScheduleAdd).Set("name", S(name)).Set("cron", S(cron));
    if (!dag.empty()) req.Set("dag", S(dag));
    req.Set("jobs", Datum(std::move(specs)));
    req.Set("files", Datum(wire::List{Datum(
                         wire::Map{{"name", S("job.sh")}, {"content", Datum(wire::Bytes{"exit 0"})}})}));
    return Client(std::move(req));
  }

  // Moves time forward in heartbeat-sized steps; the named workers keep beating.
  void Advance(int64_t ms, const std::vector<std::string>& alive) {
    for (int64_t step = 0; step < ms; step += 500) {
      now_ += std::min<int64_t>(500, ms - step);
      for (const auto& w : alive) core_->OnWorker("id-" + w, wire::MakeMessage(MsgType::kHeartbeat), now_);
      Turn();
    }
  }

  // "job@worker" for each JOB_ASSIGN sent so far, in order; clears the record.
  std::string Assignments() {
    std::string out;
    for (const auto& o : sent_) {
      if (o.kind == Outgoing::kWorker && o.msg.type == MsgType::kJobAssign) {
        const auto& job = std::get<wire::Map>(o.msg.Find("job")->v);
        out += (out.empty() ? "" : " ") + std::string(job[0].second.bytes()) + "@" + o.identity.substr(3);
      }
    }
    sent_.clear();
    return out;
  }

  std::string State(const std::string& id) {
    const Job* j = core_->FindJob(id);
    return j ? StateName(j->state) : "UNKNOWN";
  }

  CoreConfig config_ = [] {
    CoreConfig c;
    c.heartbeat_ms = 1000;
    c.recovery_grace_ms = 5000;
    return c;
  }();
  testing::TempDir dir_;
  FakeClock now_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<LogStore> logs_;
  std::unique_ptr<ArtifactService> artifacts_;
  std::unique_ptr<BrokerCore> core_;
  std::vector<Outgoing> sent_;
};

}  // namespace titan::broker
