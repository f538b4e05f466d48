// BrokerCoreTest: a BrokerCore on a real journal in a temp dir, driven by hand with a fake clock. With
// TITAN_TEST_JOURNAL=postgresql in the environment the journal is a database of its own on a real
// PostgreSQL server (base/pg_test_server.h) instead: ctest runs the core's tests both ways.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/pg_db.h"
#include "base/pg_test_server.h"
#include "base/sqlite_db.h"
#include "base/test_dir.h"
#include "broker/broker_core.h"

namespace titan::broker {

inline Datum S(const std::string& s) { return Datum(Text{s}); }

// "CODE: reason" of an ERROR, else the message's type.
inline std::string ErrorOf(const wire::Message& m) {
  const Status s = wire::StatusOf(m);
  if (s.ok()) return std::string(wire::NameOf(m.type));
  return std::string(wire::ErrorCodeName(wire::ErrorCodeOf(s.code()))) + ": " + s.message();
}

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

// Whether the tests' journals are on PostgreSQL (TITAN_TEST_JOURNAL=postgresql).
inline bool JournalOnPostgres() {
  const char* v = std::getenv("TITAN_TEST_JOURNAL");
  return v != nullptr && std::strcmp(v, "postgresql") == 0;
}

class BrokerCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (JournalOnPostgres()) {
      std::string why;
      testing::PostgresServer* server = testing::PostgresServer::Shared(&why);
      if (server == nullptr && testing::PostgresServer::BinDir().empty()) GTEST_SKIP() << why;
      ASSERT_NE(server, nullptr) << why;
      journal_uri_ = server->NewDatabase();
      ASSERT_FALSE(journal_uri_.empty()) << "CREATE DATABASE failed";
    }
    Open();
  }

  // Opens the journal and recovers a core from it, as a broker start does; the first error.
  Status Start() {
    core_.reset();
    journal_ = std::make_unique<Journal>();
    if (Status s = OpenJournal(*journal_); !s.ok()) return s;
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

  // Opens `journal` on the test's journal (the SQLite file, or the PostgreSQL database).
  Status OpenJournal(Journal& journal) {
    return journal_uri_.empty() ? journal.Open(dir_.File("broker.db"))
                                : journal.OpenPostgres(journal_uri_, dir_.path());
  }

  // A connection of its own to the journal (the SQLite file or the PostgreSQL database): what it holds is
  // what was committed, what a restart would find.
  std::unique_ptr<sql::Db> CommittedJournal() {
    if (!journal_uri_.empty()) {
      Result<std::unique_ptr<pg::Db>> db = pg::Db::Connect(journal_uri_);
      EXPECT_TRUE(db.ok()) << db.message();
      return db.ok() ? std::move(db).value() : nullptr;
    }
    auto db = std::make_unique<sqlite::Db>();
    EXPECT_TRUE(db->Open(dir_.File("broker.db"), true).ok());
    return db;
  }

  // The broker stops (as after kill -9: only what was committed survives) and starts again.
  void Stop() {
    core_.reset();
    journal_.reset();
  }

  // Ends a loop turn the way the node does: dispatch, commit, hand back the outbox.
  std::vector<Outgoing> Turn() {
    core_->OnTick(now_);
    EXPECT_TRUE(core_->EndTurn(now_).ok());
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

  // The JobSpec of `j`, running job.sh.
  static wire::JobSpec Spec(const JobArgs& j) {
    wire::JobSpec spec{.id = j.id,
                       .file = "job.sh",
                       .priority = j.priority,
                       .delay_ms = j.delay_ms,
                       .requirement = j.requirement,
                       .affinity = j.affinity,
                       .parents = j.parents,
                       .retries = j.retries};
    if (!j.hitl.empty()) spec.hitl_message = j.hitl;
    if (j.max_wait_s) spec.max_wait_s = j.max_wait_s;
    return spec;
  }
  static wire::FileBlob JobFile() { return wire::FileBlob{.name = "job.sh", .content = "exit 0"}; }

  Message Submit(const std::vector<JobArgs>& jobs, const std::string& dag = "", const std::string& run = "") {
    wire::JobSubmitMsg req{.files = {JobFile()}};
    for (const auto& j : jobs) req.jobs.push_back(Spec(j));
    if (!dag.empty()) req.dag = dag;
    if (!run.empty()) req.agent_run_id = run;
    return Client(std::move(req).ToMessage());
  }

  void Join(const std::string& name, int slots, std::vector<std::string> caps = {"GENERAL"},
            std::vector<wire::JobRef> running = {}, std::vector<wire::JobResult> finished = {},
            const std::string& parent = "") {
    wire::WorkerReadyMsg m{.name = name,
                           .host = "h",
                           .pid = 1,
                           .slots = slots,
                           .capabilities = std::move(caps),
                           .running = std::move(running),
                           .finished = std::move(finished)};
    if (!parent.empty()) m.parent = parent;
    core_->OnWorker("id-" + name, std::move(m).ToMessage(), now_);
    Turn();
  }

  void Done(const std::string& worker, const std::string& id, int64_t exit_code, int64_t attempt = 1,
            bool cancelled = false) {
    const wire::JobDoneMsg m{
        .result = {
            .id = id, .attempt = attempt, .exit_code = exit_code, .signal = 0, .cancelled = cancelled}};
    core_->OnWorker("id-" + worker, m.ToMessage(), now_);
    Turn();
  }

  // The state DAG_GET reports for DAG `id`; "UNKNOWN" when there is none.
  std::string DagState(const std::string& id) {
    const Result<wire::DagInfoMsg> info =
        wire::DagInfoMsg::From(Client(wire::DagGetMsg{.id = id}.ToMessage()));
    if (!info.ok() || !info->found) return "UNKNOWN";
    return info->dag ? info->dag->state : "?";
  }

  // SCHEDULE_ADD of `jobs` (each running job.sh) on `cron`.
  Message AddSchedule(const std::string& name, const std::string& cron, const std::vector<JobArgs>& jobs,
                      const std::string& dag = "") {
    wire::ScheduleAddMsg req{.name = name, .cron = cron, .files = {JobFile()}};
    for (const auto& j : jobs) {
      req.jobs.push_back(wire::JobSpec{.id = j.id, .file = "job.sh", .parents = j.parents});
    }
    if (!dag.empty()) req.dag = dag;
    return Client(std::move(req).ToMessage());
  }

  // Moves time forward in heartbeat-sized steps; the named workers keep beating.
  void Advance(int64_t ms, const std::vector<std::string>& alive) {
    for (int64_t step = 0; step < ms; step += 500) {
      now_ += std::min<int64_t>(500, ms - step);
      for (const auto& w : alive) core_->OnWorker("id-" + w, wire::HeartbeatMsg{}.ToMessage(), now_);
      Turn();
    }
  }

  // "job@worker" for each JOB_ASSIGN sent so far, in order; clears the record.
  std::string Assignments() {
    std::string out;
    for (const auto& o : sent_) {
      if (o.kind != Outgoing::kWorker || o.msg.type != MsgType::kJobAssign) continue;
      const Result<wire::JobAssignMsg> assign = wire::JobAssignMsg::From(o.msg);
      out += (out.empty() ? "" : " ") + (assign.ok() ? assign->job.id : "?") + "@" + o.identity.substr(3);
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
    c.liveness = 3;
    c.recovery_grace_ms = 5000;
    return c;
  }();
  testing::TempDir dir_;
  std::string journal_uri_;  // the PostgreSQL database of the journal; empty: SQLite, dir_/broker.db
  FakeClock now_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<LogStore> logs_;
  std::unique_ptr<ArtifactService> artifacts_;
  std::unique_ptr<BrokerCore> core_;
  std::vector<Outgoing> sent_;
};

}  // namespace titan::broker
