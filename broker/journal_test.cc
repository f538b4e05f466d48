// Journal: the current schema version on a fresh file, the in-place upgrade of a version 1 file, and a turn's
// coalesced job writes (BrokerCore::CommitTurn) being what a restarted broker reads back.
#include "broker/journal.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "artifacts/sha256.h"
#include "base/sqlite_db.h"
#include "base/test_dir.h"
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

int64_t UserVersion(const std::string& path) {
  sqlite::Db db;
  EXPECT_TRUE(db.Open(path, true).ok());
  sqlite::Statement st;
  EXPECT_TRUE(db.Prepare("PRAGMA user_version", &st).ok());
  return st.Step() ? st.ColumnInt(0) : -1;
}

std::vector<Job> LoadJobs(Journal& journal) {
  std::vector<Job> jobs;
  Journal::Visitor v;
  v.file = [](std::string, std::string) {};
  v.job = [&](Job j) { jobs.push_back(std::move(j)); };
  v.dag = [](Dag) {};
  v.schedule = [](std::string, std::string, int64_t) { return Status::Ok(); };
  EXPECT_TRUE(journal.Load(v).ok());
  return jobs;
}

TEST(Journal, AFreshFileHasSchemaVersionFive) {
  testing::TempDir dir;
  Journal journal;
  ASSERT_TRUE(journal.Open(dir.File("broker.db")).ok());
  EXPECT_EQ(5, UserVersion(dir.File("broker.db")));
}

TEST(Journal, UpgradesAVersionOneFileKeepingEveryRow) {
  testing::TempDir dir;
  const std::string path = dir.File("broker.db");
  {
    sqlite::Db db;
    ASSERT_TRUE(db.Open(path, true).ok());
    ASSERT_TRUE(db.Exec(R"sql(
CREATE TABLE files(hash TEXT PRIMARY KEY, name TEXT NOT NULL, content BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE jobs(
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL, spec BLOB NOT NULL, file_hash TEXT NOT NULL, dag TEXT NOT NULL,
  state TEXT NOT NULL, attempt INTEGER NOT NULL, worker TEXT NOT NULL, exit_code INTEGER, reason TEXT NOT NULL,
  submitted_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL, lost INTEGER NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '');
CREATE TABLE dags(seq INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
  agent_run_id TEXT NOT NULL, submitted_ms INTEGER NOT NULL, job_ids BLOB NOT NULL);
CREATE TABLE schedules(name TEXT PRIMARY KEY, definition BLOB NOT NULL, last_ms INTEGER NOT NULL);
INSERT INTO jobs VALUES('b', 2, x'82a26964a162a466696c65a166', 'h', 'd1', 'QUEUED', 0, '', NULL, '', 10, 0, 0, 0, '');
INSERT INTO jobs VALUES('a', 1, x'82a26964a161a466696c65a166', 'h', 'd1', 'COMPLETED', 1, 'w1', 0, '', 10, 11, 12, 0, 'ops');
INSERT INTO dags(id, name, agent_run_id, submitted_ms, job_ids) VALUES('d1', 'd1', '', 10, x'92a161a162');
)sql")
                    .ok());
  }
  EXPECT_EQ(0, UserVersion(path));
  Journal journal;
  ASSERT_TRUE(journal.Open(path).ok());
  EXPECT_EQ(5, UserVersion(path));
  const std::vector<Job> jobs = LoadJobs(journal);
  ASSERT_EQ(2u, jobs.size());
  EXPECT_EQ("a", jobs[0].id);
  EXPECT_EQ(JobState::kCompleted, jobs[0].state);
  EXPECT_EQ(0, jobs[0].exit_code.value_or(-1));
  EXPECT_EQ("ops", jobs[0].decided_by);
  EXPECT_EQ("b", jobs[1].id);
  EXPECT_EQ(JobState::kQueued, jobs[1].state);
  // Updates after the upgrade find the rows by seq.
  Job a = jobs[0];
  a.reason = "updated";
  ASSERT_TRUE(journal.BeginIfNeeded().ok());
  ASSERT_TRUE(journal.UpdateJob(a).ok());
  ASSERT_TRUE(journal.Commit().ok());
  EXPECT_EQ("updated", LoadJobs(journal)[0].reason);
}

TEST(Journal, UpgradesAVersionFourFileWithEpochsAndTokens) {
  testing::TempDir dir;
  const std::string path = dir.File("broker.db");
  {
    sqlite::Db db;  // version 4's tables, as a broker before epochs and tokens left them
    ASSERT_TRUE(db.Open(path, true).ok());
    ASSERT_TRUE(db.Exec(R"sql(
CREATE TABLE files(hash TEXT PRIMARY KEY, name TEXT NOT NULL, content BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE jobs(
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL, spec BLOB NOT NULL, file_hash TEXT NOT NULL, dag TEXT NOT NULL,
  state TEXT NOT NULL, attempt INTEGER NOT NULL, worker TEXT NOT NULL, exit_code INTEGER, reason TEXT NOT NULL,
  submitted_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL, lost INTEGER NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '', run INTEGER NOT NULL DEFAULT 0, first_attempt INTEGER NOT NULL DEFAULT 0);
CREATE TABLE dags(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL,
  agent_run_id TEXT NOT NULL, submitted_ms INTEGER NOT NULL, job_ids BLOB NOT NULL,
  job_runs BLOB NOT NULL DEFAULT x'');
CREATE TABLE schedules(name TEXT PRIMARY KEY, definition BLOB NOT NULL, last_ms INTEGER NOT NULL);
INSERT INTO jobs VALUES(1, 'a', x'82a26964a161a466696c65a166', 'h', 'd1', 'RUNNING', 2, 'w1', NULL, '', 10, 11, 0, 0, '', 3, 2);
INSERT INTO dags(id, name, agent_run_id, submitted_ms, job_ids, job_runs) VALUES('d1', 'd1', '', 10, x'91a161', x'9103');
PRAGMA user_version = 4;
)sql")
                    .ok());
  }
  Journal journal;
  ASSERT_TRUE(journal.Open(path).ok());
  EXPECT_EQ(5, UserVersion(path));
  std::vector<Job> jobs = LoadJobs(journal);
  ASSERT_EQ(1u, jobs.size());
  EXPECT_EQ(3, jobs[0].run) << "version 4 kept runs: not derived again";
  EXPECT_EQ(2, jobs[0].first_attempt);
  EXPECT_EQ(0, jobs[0].epoch);
  // The new columns are written and read back.
  jobs[0].epoch = 7;
  ASSERT_TRUE(journal.BeginIfNeeded().ok());
  ASSERT_TRUE(journal.UpdateJob(jobs[0]).ok());
  Dag dag{"d2", "d2", "", {"b"}, 20, {1}};
  dag.token = "tok-1";
  ASSERT_TRUE(journal.InsertDag(dag).ok());
  ASSERT_TRUE(journal.Commit().ok());
  EXPECT_EQ(7, LoadJobs(journal)[0].epoch);
  const Result<std::optional<Dag>> found = journal.FindDagByToken("tok-1");
  ASSERT_TRUE(found.ok()) << found.message();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ("d2", (*found)->id);
  EXPECT_EQ("tok-1", (*found)->token);
  const Result<std::optional<Dag>> none = journal.FindDagByToken("tok-2");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  std::string tokens;  // each DAG's token as Load reads it back: d1 has none
  Journal::Visitor v;
  v.file = [](std::string, std::string) {};
  v.job = [](Job) {};
  v.dag = [&](Dag d) { tokens += d.id + ":" + d.token + " "; };
  v.schedule = [](std::string, std::string, int64_t) { return Status::Ok(); };
  ASSERT_TRUE(journal.Load(v).ok());
  EXPECT_EQ("d1: d2:tok-1 ", tokens);
}

TEST(Journal, AFileOfAnEarlierBrokerGainsTheAuditTableAndKeepsItsVersion) {
  testing::TempDir dir;
  const std::string path = dir.File("broker.db");
  {
    Journal journal;
    ASSERT_TRUE(journal.Open(path).ok());
  }
  {
    sqlite::Db db;  // as an earlier broker left it: no audit table
    ASSERT_TRUE(db.Open(path, true).ok());
    ASSERT_TRUE(db.Exec("DROP TABLE audit").ok());
  }
  Journal journal;
  ASSERT_TRUE(journal.Open(path).ok());
  EXPECT_EQ(5, UserVersion(path));
  ASSERT_TRUE(journal.BeginIfNeeded().ok());
  ASSERT_TRUE(journal.audit()
                  .Append(wire::AuditEntry{
                      .ts_ms = 5, .principal = "alice", .action = "JOB_STOP", .target = "a", .outcome = "ok"})
                  .ok());
  ASSERT_TRUE(journal.Commit().ok());
  const Result<wire::AuditListReplyMsg> list = wire::AuditListReplyMsg::From(journal.audit().List({}));
  ASSERT_TRUE(list.ok()) << list.message();
  ASSERT_EQ(1u, list->entries.size());
  EXPECT_EQ("alice", list->entries[0].principal);
}

TEST(Journal, RefusesAFileFromANewerBroker) {
  testing::TempDir dir;
  {
    sqlite::Db db;
    ASSERT_TRUE(db.Open(dir.File("broker.db"), true).ok());
    ASSERT_TRUE(db.Exec("PRAGMA user_version = 9").ok());
  }
  Journal journal;
  const Status st = journal.Open(dir.File("broker.db"));
  EXPECT_EQ(
      "the journal has schema version 9, newer than this broker's 5; run the titan version that wrote it",
      st.message());
}

// The spec column of each jobs row, rendered, in seq order.
std::vector<std::string> SpecColumns(const std::string& path) {
  sqlite::Db db;
  EXPECT_TRUE(db.Open(path, true).ok());
  sqlite::Statement st;
  EXPECT_TRUE(db.Prepare("SELECT spec FROM jobs ORDER BY seq", &st).ok());
  std::vector<std::string> specs;
  while (st.Step()) {
    Datum d;
    std::string error;
    EXPECT_TRUE(wire::DecodeMsgpack(st.ColumnBlob(0), 1 << 20, &d, &error)) << error;
    specs.push_back(wire::Render(d));
  }
  return specs;
}

// The spec column holds the JobSpec's map (schema order, absent fields left out); a gate's also holds
// the keys only the broker writes, "kind" and "message". Both read back as they were.
TEST(Journal, ASpecIsItsJobSpecMapAndAGateKeepsItsKindAndMessage) {
  testing::TempDir dir;
  Job job;
  job.id = "a";
  job.seq = 1;
  job.spec = wire::JobSpec{.id = "a", .file = "a.sh", .priority = 5, .env = std::vector<std::string>{"X=1"}};
  Job gate;
  gate.id = "hitl-gate-a";
  gate.seq = 2;
  gate.spec =
      wire::JobSpec{.id = gate.id, .file = "", .parents = std::vector<std::string>{"a"}, .max_wait_s = 60};
  gate.gate = true;
  gate.message = "go?";
  Journal journal;
  ASSERT_TRUE(journal.Open(dir.File("broker.db")).ok());
  ASSERT_TRUE(journal.BeginIfNeeded().ok());
  ASSERT_TRUE(journal.InsertJob(job).ok());
  ASSERT_TRUE(journal.InsertJob(gate).ok());
  ASSERT_TRUE(journal.Commit().ok());
  EXPECT_EQ((std::vector<std::string>{"{id: \"a\", file: \"a.sh\", priority: 5, env: [\"X=1\"]}",
                                      "{id: \"hitl-gate-a\", file: \"\", kind: \"GATE\", message: \"go?\", "
                                      "parents: [\"a\"], max_wait_s: 60}"}),
            SpecColumns(dir.File("broker.db")));
  const std::vector<Job> jobs = LoadJobs(journal);
  ASSERT_EQ(2u, jobs.size());
  EXPECT_EQ(job.spec, jobs[0].spec);
  EXPECT_EQ(5, jobs[0].priority);
  EXPECT_FALSE(jobs[0].gate);
  EXPECT_EQ(gate.spec, jobs[1].spec);
  EXPECT_TRUE(jobs[1].gate);
  EXPECT_EQ("go?", jobs[1].message);
  EXPECT_EQ(60000, jobs[1].max_wait_ms);
}

// A gate row as an earlier broker wrote it (the spec in its own key order) loads as a gate.
TEST(Journal, AGateRowOfAnEarlierBrokerLoadsAsAGate) {
  testing::TempDir dir;
  const std::string path = dir.File("broker.db");
  { ASSERT_TRUE(Journal().Open(path).ok()); }  // the current schema
  std::string spec;
  wire::EncodeMsgpack(Datum(wire::Map{{"id", S("hitl-gate-b")},
                                      {"file", S("")},
                                      {"kind", S("GATE")},
                                      {"message", S("ship it?")},
                                      {"max_wait_s", Datum(30)},
                                      {"parents", StrList({"b"})}}),
                      &spec);
  {
    sqlite::Db db;
    ASSERT_TRUE(db.Open(path, true).ok());
    sqlite::Statement st;
    ASSERT_TRUE(
        db.Prepare("INSERT INTO jobs(seq, id, spec, file_hash, dag, state, attempt, worker, exit_code, "
                   "reason, submitted_ms, started_ms, finished_ms, lost, decided_by) VALUES(1, "
                   "'hitl-gate-b', ?, '', 'd', 'BLOCKED', 0, '', NULL, '', 10, 0, 0, 0, '')",
                   &st)
            .ok());
    st.Bind(1, spec).Step();
    ASSERT_TRUE(st.status().ok()) << st.status().message();
  }
  Journal journal;
  ASSERT_TRUE(journal.Open(path).ok());
  const std::vector<Job> jobs = LoadJobs(journal);
  ASSERT_EQ(1u, jobs.size());
  EXPECT_TRUE(jobs[0].gate);
  EXPECT_EQ("ship it?", jobs[0].message);
  EXPECT_EQ(30000, jobs[0].max_wait_ms);
  EXPECT_EQ(std::vector<std::string>{"b"}, jobs[0].parents);
  EXPECT_EQ((wire::JobSpec{
                .id = "hitl-gate-b", .file = "", .parents = std::vector<std::string>{"b"}, .max_wait_s = 30}),
            jobs[0].spec);
}

// A job submitted, queued and assigned in one turn is written once, with the state the turn left it
// in; a later turn's change is an update of that row. Both are what a restarted broker reads.
TEST_F(BrokerCoreTest, ATurnWritesEachChangedJobOnceWithItsFinalState) {
  Join("w1", 1);
  Submit({{"one"}, {"two"}});
  EXPECT_EQ("one@w1", Assignments());
  {
    Journal reader;
    ASSERT_TRUE(OpenJournal(reader).ok());
    const std::vector<Job> jobs = LoadJobs(reader);
    ASSERT_EQ(2u, jobs.size());
    EXPECT_EQ(JobState::kRunning, jobs[0].state);
    EXPECT_EQ("w1", jobs[0].worker);
    EXPECT_EQ(JobState::kQueued, jobs[1].state);
  }
  Done("w1", "one", 0);
  EXPECT_EQ("two@w1", Assignments());
  Journal reader;
  ASSERT_TRUE(OpenJournal(reader).ok());
  const std::vector<Job> jobs = LoadJobs(reader);
  EXPECT_EQ(JobState::kCompleted, jobs[0].state);
  EXPECT_EQ(JobState::kRunning, jobs[1].state);
}

// Resubmitted content is recognised by a sampled fingerprint, but only equal bytes share a hash: two
// files that differ in one byte the fingerprint does not sample still get their own SHA-256.
TEST_F(BrokerCoreTest, ContentThatOnlyLooksTheSameKeepsItsOwnHash) {
  Join("w1", 4);
  std::string a(100000, 'x');
  std::string b = a;
  b[1000] = 'y';  // outside the sampled windows (0, the middle, the last 256 bytes)
  auto submit = [&](const std::string& id, const std::string& content) {
    const wire::JobSubmitMsg req{.jobs = {{.id = id, .file = "big.sh"}},
                                 .files = {{.name = "big.sh", .content = content}}};
    EXPECT_EQ(MsgType::kJobAccepted, Client(req.ToMessage()).type);
  };
  submit("a1", a);
  submit("b1", b);
  submit("a2", a);
  Turn();
  std::map<std::string, std::string> sha;
  for (const auto& o : sent_) {
    if (o.kind != Outgoing::kWorker || o.msg.type != MsgType::kJobAssign) continue;
    const Result<wire::JobAssignMsg> assign = wire::JobAssignMsg::From(o.msg);
    ASSERT_TRUE(assign.ok()) << assign.message();
    sha[assign->job.id] = assign->file_sha256;
  }
  ASSERT_EQ(3u, sha.size());
  EXPECT_EQ(artifacts::Sha256Hex(a), sha["a1"]);
  EXPECT_EQ(artifacts::Sha256Hex(b), sha["b1"]);
  EXPECT_EQ(sha["a1"], sha["a2"]);
}

TEST(Journal, ASecretEnvIsSealedAtRestAndReadBackWithItsKeyOnly) {
  testing::TempDir dir;
  Job job;
  job.id = "s";
  job.seq = 1;
  job.spec = wire::JobSpec{.id = "s",
                           .file = "s.sh",
                           .env = std::vector<std::string>{"PLAIN=1"},
                           .secret_env = std::vector<std::string>{"API_KEY=hunter2-value"}};
  {
    Journal journal;
    ASSERT_TRUE(journal.Open(dir.File("broker.db")).ok());
    ASSERT_TRUE(journal.BeginIfNeeded().ok());
    ASSERT_TRUE(journal.InsertJob(job).ok());
    ASSERT_TRUE(journal.PutSchedule("nightly", "definition with hunter2-value", 0, /*secret=*/true).ok());
    ASSERT_TRUE(journal.Commit().ok());
  }
  for (const std::string& column : SpecColumns(dir.File("broker.db"))) {
    EXPECT_EQ(std::string::npos, column.find("hunter2")) << column;
    EXPECT_NE(std::string::npos, column.find("sealed_secret_env")) << column;
  }
  Journal journal;
  ASSERT_TRUE(journal.Open(dir.File("broker.db")).ok());
  std::string definition;
  Journal::Visitor v;
  std::vector<Job> jobs;
  v.file = [](std::string, std::string) {};
  v.job = [&](Job j) { jobs.push_back(std::move(j)); };
  v.dag = [](Dag) {};
  v.schedule = [&](std::string, std::string d, int64_t) {
    definition = std::move(d);
    return Status::Ok();
  };
  ASSERT_TRUE(journal.Load(v).ok());
  ASSERT_EQ(1u, jobs.size());
  EXPECT_EQ(job.spec, jobs[0].spec);
  EXPECT_EQ("definition with hunter2-value", definition);

  // Without its key the row cannot be read: an error that names the key file, never an empty secret.
  std::filesystem::remove(dir.File("secrets.key"));
  Journal keyless;
  ASSERT_TRUE(keyless.Open(dir.File("broker.db")).ok());
  v.job = [](Job) {};
  const Status load = keyless.Load(v);
  ASSERT_FALSE(load.ok());
  EXPECT_NE(std::string::npos, load.message().find("secrets.key")) << load.message();
}

}  // namespace
}  // namespace titan::broker
