// Read-only mode, driven by hand: a commit that finds the disk full is rolled back and refused, the
// broker then refuses changes and serves reads, keeps what workers report for later, probes every
// second and resumes by itself; it starts read-only on a full disk; output lost to a full disk shows as
// log_truncated, a mark the journal keeps with its job row. The "disk" is the journal file held at its
// size (Journal::SetFullForTesting) and, for job logs, a log file that is /dev/full.
#include <unistd.h>

#include <filesystem>

#include "base/sqlite_db.h"
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class ReadOnlyCoreTest : public BrokerCoreTest {
 protected:
  void Full(bool full) { ASSERT_TRUE(journal_->SetFullForTesting(full).ok()); }

  // A submission whose file needs new pages of the journal: a full disk cannot take it.
  Message SubmitBig(const std::string& id) {
    wire::JobSubmitMsg req{.files = {wire::FileBlob{.name = "big.sh", .content = std::string(200'000, '#')}}};
    req.jobs.push_back(wire::JobSpec{.id = id, .file = "big.sh"});
    return Client(std::move(req).ToMessage());
  }

  // The disk fills up: the next submission cannot be committed, and the broker turns read-only.
  void FillDisk() {
    Full(true);
    EXPECT_EQ(Refusal(), ErrorOf(SubmitBig("too-much")));
    ASSERT_TRUE(core_->read_only());
  }

  std::string Refusal() const {
    return "UNAVAILABLE: disk full on the broker (" + dir_.path() +
           "); free space there, Titan resumes by itself";
  }

  // Time passes until the next space probe has run.
  void NextProbe() {
    now_ += ReadOnlyMode::kProbeEveryMs;
    Turn();
  }

  wire::JobInfo Get(const std::string& id) {
    const Result<wire::JobInfoMsg> info =
        wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = id}.ToMessage()));
    EXPECT_TRUE(info.ok() && info->found) << id;
    return info.ok() && info->job ? *info->job : wire::JobInfo{};
  }

  wire::StatsMsg Stats() {
    const Result<wire::StatsMsg> stats = wire::StatsMsg::From(Client(wire::StatsGetMsg{}.ToMessage()));
    EXPECT_TRUE(stats.ok());
    return stats.ok() ? *stats : wire::StatsMsg{};
  }

  // The types of the messages sent to worker `name` so far ("JOB_ACK DISCONNECT"); clears the record.
  std::string ToWorker(const std::string& name) {
    std::string out;
    for (const Outgoing& o : sent_) {
      if (o.kind == Outgoing::kWorker && o.identity == "id-" + name)
        out += (out.empty() ? "" : " ") + std::string(wire::NameOf(o.msg.type));
    }
    sent_.clear();
    return out;
  }

  void Beat(const std::string& worker) {
    core_->OnWorker("id-" + worker, wire::HeartbeatMsg{}.ToMessage(), now_);
    Turn();
  }
};

TEST_F(ReadOnlyCoreTest, ACommitThatFindsTheDiskFullIsRolledBackAndItsRequestRefused) {
  Submit({{"a"}});
  FillDisk();
  EXPECT_EQ("UNKNOWN", State("too-much")) << "the refused submission left nothing behind";
  EXPECT_EQ("QUEUED", State("a"));
  const wire::StatsMsg stats = Stats();
  EXPECT_TRUE(stats.read_only.value_or(false));
  EXPECT_EQ(now_.wall_ms, stats.read_only_since_ms.value_or(0));
  const std::string reason = stats.read_only_reason.value_or("");
  EXPECT_NE(std::string::npos, reason.find("cannot write the journal '" + dir_.File("broker.db") + "'"))
      << reason;
  EXPECT_NE(std::string::npos, reason.find("database or disk is full")) << reason;
  EXPECT_NE(std::string::npos, reason.find("free space there, Titan resumes by itself")) << reason;
  Stop();  // what was acknowledged is in the journal, and only that
  Open();
  EXPECT_EQ("UNKNOWN", State("too-much"));
  EXPECT_EQ("QUEUED", State("a"));
  EXPECT_FALSE(core_->read_only());
}

TEST_F(ReadOnlyCoreTest, WhileReadOnlyChangesAreRefusedAtOnceAndReadsServed) {
  Submit({{"a"}});
  FillDisk();
  Full(false);  // space is back, but until the probe sees it the broker writes nothing
  EXPECT_EQ(Refusal(), ErrorOf(Client(wire::JobStopMsg{.id = "a"}.ToMessage())));
  EXPECT_EQ(Refusal(), ErrorOf(Submit({{"b"}})));
  EXPECT_EQ(Refusal(), ErrorOf(Client(wire::ScheduleRemoveMsg{.name = "nightly"}.ToMessage())));
  EXPECT_EQ("QUEUED", Get("a").state);
  const Result<wire::JobListReplyMsg> list =
      wire::JobListReplyMsg::From(Client(wire::JobListMsg{.limit = 10}.ToMessage()));
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(1u, list->jobs.size());
  EXPECT_EQ("a", list->jobs[0].id);
  EXPECT_EQ("JOB_LOG_DATA", ErrorOf(Client(wire::JobLogsMsg{.id = "a", .max_bytes = 100}.ToMessage())));
  EXPECT_TRUE(core_->read_only());
}

TEST_F(ReadOnlyCoreTest, ItProbesEverySecondAndResumesByItselfWhenSpaceReturns) {
  FillDisk();
  EXPECT_EQ(now_.mono_ms + ReadOnlyMode::kProbeEveryMs, core_->NextDeadline());
  NextProbe();
  EXPECT_TRUE(core_->read_only()) << "still full";
  Full(false);
  now_ += ReadOnlyMode::kProbeEveryMs - 1;
  Turn();
  EXPECT_TRUE(core_->read_only()) << "the next probe is not due yet";
  now_ += 1;
  Turn();
  EXPECT_FALSE(core_->read_only());
  EXPECT_FALSE(Stats().read_only.has_value());
  EXPECT_EQ("JOB_ACCEPTED", ErrorOf(SubmitBig("b")));
  EXPECT_EQ("QUEUED", State("b"));
}

TEST_F(ReadOnlyCoreTest, NothingIsDispatchedAndNoTimerChangesAJobWhileReadOnly) {
  Submit({{"a"}, {"later", {}, 1, "GENERAL", 500}});
  FillDisk();
  Full(false);
  Join("w1", 4);  // a worker may register: that is not journaled
  EXPECT_EQ("w1:0/4", core_->RenderWorkers());
  Advance(600, {"w1"});  // the delay ends; the probe is not due yet
  EXPECT_TRUE(core_->read_only());
  EXPECT_EQ("", Assignments());
  EXPECT_EQ("SCHEDULED", State("later"));
  Advance(400, {"w1"});  // the probe finds the space back
  EXPECT_FALSE(core_->read_only());
  EXPECT_EQ("a@w1 later@w1", Assignments()) << "dispatched, and the waiting timer fired, once writable";
}

TEST_F(ReadOnlyCoreTest, AResultReportedWhileReadOnlyIsKeptByItsWorkerAndAppliedOnceWritable) {
  Join("w1", 4);
  Submit({{"a"}});
  EXPECT_EQ("a@w1", Assignments());
  FillDisk();  // rolled back to the journal: the worker table is gone, as after a restart
  sent_.clear();
  Beat("w1");
  EXPECT_EQ("DISCONNECT", ToWorker("w1"));
  Join("w1", 4, {"GENERAL"}, {wire::JobRef{.id = "a", .attempt = 1}});
  EXPECT_EQ("WORKER_WELCOME", ToWorker("w1"));
  EXPECT_EQ("w1:1/4", core_->RenderWorkers()) << "its run adopted: that changes nothing journaled";
  Done("w1", "a", 0);
  EXPECT_EQ("", ToWorker("w1")) << "not acknowledged: the worker keeps the result";
  EXPECT_EQ("RUNNING", State("a"));
  Full(false);
  NextProbe();
  EXPECT_FALSE(core_->read_only());
  EXPECT_NE(std::string::npos, ToWorker("w1").find("DISCONNECT"))
      << "asked to register again, with its result";
  Join("w1", 4, {"GENERAL"}, {}, {wire::JobResult{.id = "a", .attempt = 1, .exit_code = 0, .signal = 0}});
  EXPECT_EQ("COMPLETED", State("a"));
  EXPECT_EQ("WORKER_WELCOME JOB_ACK", ToWorker("w1"));
}

TEST_F(ReadOnlyCoreTest, ARollBackAnswersEveryWaitingClient) {
  Submit({{"a"}});
  core_->OnClient({"waiter"}, 7, wire::JobWaitMsg{.id = "a", .timeout_ms = 60'000}.ToMessage(), now_);
  Turn();
  sent_.clear();
  FillDisk();
  std::string answers;
  for (const Outgoing& o : sent_) {
    if (o.kind == Outgoing::kClient && o.route == Route{"waiter"})
      answers += ErrorOf(o.msg) + " rid " + std::to_string(o.msg.Int("rid"));
  }
  EXPECT_EQ(Refusal() + " rid 7", answers);
}

TEST_F(ReadOnlyCoreTest, ItStartsReadOnlyOnAFullDiskAndResumesWhenSpaceReturns) {
  Submit({{"a"}});
  Stop();
  Open();
  Full(true);
  core_->CheckSpace(now_);
  EXPECT_TRUE(core_->read_only());
  EXPECT_EQ("QUEUED", Get("a").state);
  EXPECT_EQ(Refusal(), ErrorOf(Submit({{"b"}})));
  NextProbe();
  EXPECT_TRUE(core_->read_only());
  Full(false);
  NextProbe();
  EXPECT_FALSE(core_->read_only());
  EXPECT_EQ("JOB_ACCEPTED", ErrorOf(Submit({{"b"}})));
}

TEST_F(ReadOnlyCoreTest, RequestsRefusedWhileReadOnlyAreAuditedOnceWritable) {
  Submit({{"a"}});
  Full(true);  // one turn: a key change, a stop that succeeds, a submission the disk cannot take
  core_->Audit(wire::AuditEntry{.ts_ms = now_.wall_ms,
                                .principal = "os:ops",
                                .action = "KEY_REVOKE",
                                .target = "eve",
                                .outcome = "ok"});
  core_->OnClient({"c"}, 1, wire::JobStopMsg{.id = "a"}.ToMessage(), now_);
  EXPECT_EQ(Refusal(), ErrorOf(SubmitBig("too-much")));
  EXPECT_EQ("QUEUED", State("a")) << "the stop was rolled back with its turn";
  Client(wire::JobStopMsg{.id = "x"}.ToMessage());  // refused while read-only
  Full(false);
  NextProbe();
  const Result<wire::AuditListReplyMsg> list =
      wire::AuditListReplyMsg::From(Client(wire::AuditListMsg{}.ToMessage()));
  ASSERT_TRUE(list.ok());
  std::string rows;
  for (const wire::AuditEntry& e : list->entries) rows += e.action + " " + e.target + " " + e.outcome + "; ";
  EXPECT_EQ(
      "JOB_SUBMIT dag=a jobs=a ok; KEY_REVOKE eve ok; JOB_STOP a UNAVAILABLE; JOB_SUBMIT jobs=too-much "
      "UNAVAILABLE; JOB_STOP x UNAVAILABLE; ",
      rows);
}

TEST_F(ReadOnlyCoreTest, OutputTheBrokersDiskCannotTakeMarksTheJobAndMakesItReadOnly) {
  Join("w1", 4);
  Submit({{"a"}});
  EXPECT_EQ("a@w1", Assignments());
  const std::string log = dir_.File("logs/a.log");
  std::filesystem::remove(log);
  ASSERT_EQ(0, symlink("/dev/full", log.c_str()));  // every write: ENOSPC
  wire::JobLogMsg chunk{.id = "a", .attempt = 1, .seq = 0, .stream = "stdout"};
  chunk.blobs.push_back("hello\n");
  core_->OnWorker("id-w1", std::move(chunk).ToMessage(), now_);
  Turn();
  EXPECT_TRUE(core_->read_only());
  EXPECT_TRUE(Get("a").log_truncated.value_or(false));
  std::filesystem::remove(log);  // space is back
  NextProbe();
  EXPECT_FALSE(core_->read_only());
  Done("w1", "a", 0);
  EXPECT_EQ("COMPLETED", Get("a").state) << "its state is what the process gave";
  Stop();
  Open();
  EXPECT_TRUE(Get("a").log_truncated.value_or(false)) << "journaled";
}

TEST_F(ReadOnlyCoreTest, AResultSayingTheWorkersLogIsIncompleteMarksTheJob) {
  Join("w1", 4);
  Submit({{"a"}, {"b"}});
  EXPECT_EQ("a@w1 b@w1", Assignments());
  core_->OnWorker("id-w1",
                  wire::JobDoneMsg{.result = {.id = "a",
                                              .attempt = 1,
                                              .exit_code = 0,
                                              .signal = 0,
                                              .cancelled = false,
                                              .log_truncated = true}}
                      .ToMessage(),
                  now_);
  Turn();
  Done("w1", "b", 0);
  EXPECT_EQ("COMPLETED", Get("a").state);
  EXPECT_TRUE(Get("a").log_truncated.value_or(false));
  EXPECT_FALSE(Get("b").log_truncated.has_value());
  Stop();
  Open();
  EXPECT_TRUE(Get("a").log_truncated.value_or(false));
  EXPECT_FALSE(Get("b").log_truncated.has_value());
}

TEST_F(ReadOnlyCoreTest, OutputLostOnTheWayMarksTheJobsLogTruncated) {
  Join("w1", 4);
  Submit({{"a"}, {"b"}});
  EXPECT_EQ("a@w1 b@w1", Assignments());
  auto chunk = [&](const std::string& id, int64_t seq) {
    wire::JobLogMsg m{.id = id, .attempt = 1, .seq = seq, .stream = "stdout"};
    m.blobs.push_back("line " + std::to_string(seq) + "\n");
    core_->OnWorker("id-w1", std::move(m).ToMessage(), now_);
    Turn();
  };
  chunk("a", 0);
  chunk("a", 3);  // 1 and 2 were sent while this broker was down
  chunk("b", 0);
  chunk("b", 1);
  EXPECT_TRUE(Get("a").log_truncated.value_or(false));
  EXPECT_FALSE(Get("b").log_truncated.has_value());
  Stop();
  Open();
  EXPECT_TRUE(Get("a").log_truncated.value_or(false)) << "journaled";
}

// A job row, as the journal writes it, of job `id` at `seq`.
Job Row(const std::string& id, int64_t seq, bool log_truncated) {
  Job job;
  job.id = id;
  job.seq = seq;
  job.spec = wire::JobSpec{.id = id, .file = "a.sh"};
  job.state = JobState::kCompleted;
  job.log_truncated = log_truncated;
  return job;
}

bool Truncated(Journal& journal, const std::string& id) {
  const Result<std::optional<Job>> found = journal.FindJob(id);
  EXPECT_TRUE(found.ok() && found->has_value()) << id;
  return found.ok() && found->has_value() && (*found)->log_truncated;
}

TEST(JournalLogTruncated, TheMarkIsKeptWithItsJobAndLeavesWithIt) {
  testing::TempDir dir;
  Journal journal;
  ASSERT_TRUE(journal.Open(dir.File("broker.db")).ok());
  ASSERT_TRUE(journal.BeginIfNeeded().ok());
  ASSERT_TRUE(journal.InsertJob(Row("a", 1, true)).ok());
  ASSERT_TRUE(journal.InsertJob(Row("b", 2, false)).ok());
  ASSERT_TRUE(journal.UpdateJob(Row("a", 1, true)).ok()) << "marked once, however often it is written";
  ASSERT_TRUE(journal.Commit().ok());
  EXPECT_TRUE(Truncated(journal, "a"));
  EXPECT_FALSE(Truncated(journal, "b"));
  ASSERT_TRUE(journal.BeginIfNeeded().ok());  // retention deletes the row: its mark goes with it
  ASSERT_TRUE(journal.DeleteJobs(1, 1).ok());
  ASSERT_TRUE(journal.InsertJob(Row("c", 1, false)).ok());
  ASSERT_TRUE(journal.Commit().ok());
  EXPECT_FALSE(Truncated(journal, "c")) << "a later row with that seq is not marked";
}

TEST(JournalLogTruncated, AFileOfAnEarlierBrokerGainsTheTableAndKeepsItsVersion) {
  testing::TempDir dir;
  const std::string path = dir.File("broker.db");
  {
    Journal journal;
    ASSERT_TRUE(journal.Open(path).ok());
  }
  {
    sqlite::Db db;  // as an earlier broker left it: no truncated_logs
    ASSERT_TRUE(db.Open(path, true).ok());
    ASSERT_TRUE(db.Exec("DROP TABLE truncated_logs").ok());
  }
  Journal journal;
  ASSERT_TRUE(journal.Open(path).ok());
  ASSERT_TRUE(journal.BeginIfNeeded().ok());
  ASSERT_TRUE(journal.InsertJob(Row("a", 1, true)).ok());
  ASSERT_TRUE(journal.Commit().ok());
  EXPECT_TRUE(Truncated(journal, "a"));
}

}  // namespace
}  // namespace titan::broker
