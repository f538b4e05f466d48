// SQLite tables behind the broker journal: the schema, its upgrades, and the writes of a turn (both
// backends: PostgreSQL's schema is journal_pg.cc). Reading them back is journal_load.cc.
#include "broker/journal.h"

#include <algorithm>
#include <filesystem>

#include "base/pg_db.h"
#include "base/sqlite_db.h"

namespace titan::broker {
namespace {

// Schema version 5 (PRAGMA user_version). Jobs and DAGs are keyed by their submission sequence (the
// rowid): a new one is an append and a job's update finds its row directly. An id may appear in
// several rows: the runs of a reused id, in submission order (the broker refuses an id whose latest
// run is not final); each row keeps its run number and its run's first attempt, so they stay right
// when retention deletes earlier rows. A DAG names its jobs by id and run (job_runs; empty in rows
// from before runs). The jobs of one submission have consecutive seqs and one dag. Indexes serve the
// lookups of jobs that left the broker's memory (by id, DAGs by id) and recovery's search for jobs
// still live (a partial index: only rows not in a final state are in it).
// A table added whole, which older brokers ignore, needs no new version: the audit log's
// (security/audit_log.h), truncated_logs (the jobs whose log could not be kept whole: a full disk) and
// job_usage (what a job's last run used) are created when missing, in a file of any version, each time a
// journal opens. Version 5 added jobs.epoch (the lease epoch the run's current attempt was assigned
// under; 0 on SQLite) and dags.token (the submission's idempotency token, NULL when it had none), with
// an index of the tokens.
constexpr int kSchemaVersion = 5;
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS files(hash TEXT PRIMARY KEY, name TEXT NOT NULL, content BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs(
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL, spec BLOB NOT NULL, file_hash TEXT NOT NULL, dag TEXT NOT NULL,
  state TEXT NOT NULL, attempt INTEGER NOT NULL, worker TEXT NOT NULL, exit_code INTEGER, reason TEXT NOT NULL,
  submitted_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL, lost INTEGER NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '', run INTEGER NOT NULL DEFAULT 0, first_attempt INTEGER NOT NULL DEFAULT 0,
  epoch INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS dags(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL,
  agent_run_id TEXT NOT NULL, submitted_ms INTEGER NOT NULL, job_ids BLOB NOT NULL,
  job_runs BLOB NOT NULL DEFAULT x'', token TEXT);
CREATE TABLE IF NOT EXISTS schedules(name TEXT PRIMARY KEY, definition BLOB NOT NULL, last_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS volumes(name TEXT PRIMARY KEY, info BLOB NOT NULL);
)sql";
constexpr const char* kIndexes = R"sql(
CREATE INDEX IF NOT EXISTS jobs_by_id ON jobs(id);
CREATE INDEX IF NOT EXISTS dags_by_id ON dags(id);
CREATE INDEX IF NOT EXISTS jobs_live ON jobs(seq) WHERE LIVE_JOB;
CREATE INDEX IF NOT EXISTS dags_by_token ON dags(token) WHERE token IS NOT NULL;
)sql";
constexpr const char* kTruncatedLogs = "CREATE TABLE IF NOT EXISTS truncated_logs(seq INTEGER PRIMARY KEY)";
// job_usage: what a job's last finished run used (JobUsage, msgpack), by the job's seq.
constexpr const char* kJobUsage =
    "CREATE TABLE IF NOT EXISTS job_usage(seq INTEGER PRIMARY KEY, usage BLOB NOT NULL)";

// What a space probe writes: enough that a turn's usual writes fit once it succeeds, so a disk
// hovering at full does not take the broker in and out of read-only mode at every turn.
constexpr int64_t kProbeBytes = 64 * 1024;

// Version 1 (before user_version was set) keyed jobs by id and kept a unique index on DAG ids. Its
// tables are renamed, kSchema creates the current ones, and the rows move over unchanged, all in one
// transaction; then FillRuns numbers them as version 3 does.
constexpr const char* kRenameVersion1 = R"sql(
BEGIN IMMEDIATE;
ALTER TABLE jobs RENAME TO jobs_v1;
ALTER TABLE dags RENAME TO dags_v1;
)sql";
constexpr const char* kCopyVersion1 = R"sql(
INSERT INTO jobs(seq, id, spec, file_hash, dag, state, attempt, worker, exit_code, reason, submitted_ms,
  started_ms, finished_ms, lost, decided_by) SELECT seq, id, spec, file_hash, dag, state, attempt, worker,
  exit_code, reason, submitted_ms, started_ms, finished_ms, lost, decided_by FROM jobs_v1;
INSERT INTO dags(seq, id, name, agent_run_id, submitted_ms, job_ids)
  SELECT seq, id, name, agent_run_id, submitted_ms, job_ids FROM dags_v1;
DROP TABLE jobs_v1;
DROP TABLE dags_v1;
)sql";

// Version 2 lacked dags.job_runs; every DAG of it names run 1 of its jobs (ids were never reused).
constexpr const char* kUpgradeVersion2 = "ALTER TABLE dags ADD COLUMN job_runs BLOB NOT NULL DEFAULT x'';\n";
// Version 3 derived each row's run and first attempt from the rows before it; version 4 keeps them.
constexpr const char* kUpgradeVersion3 = R"sql(
ALTER TABLE jobs ADD COLUMN run INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN first_attempt INTEGER NOT NULL DEFAULT 0;
)sql";
// Version 4 had no lease epochs and no submission tokens.
constexpr const char* kUpgradeVersion4 = R"sql(
ALTER TABLE jobs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dags ADD COLUMN token TEXT;
)sql";
// Numbers the rows of an upgraded file as recovery used to: run N is the Nth row of its id, and a run's
// first attempt follows the last attempt of the run before it.
constexpr const char* kFillRuns = R"sql(
UPDATE jobs SET run = (SELECT count(*) FROM jobs AS e WHERE e.id = jobs.id AND e.seq <= jobs.seq),
  first_attempt = 1 + coalesce((SELECT e.attempt FROM jobs AS e WHERE e.id = jobs.id AND e.seq < jobs.seq
                                ORDER BY e.seq DESC LIMIT 1), 0);
)sql";

std::string Indexes() {
  std::string sql = kIndexes;
  const std::string marker = "LIVE_JOB";
  sql.replace(sql.find(marker), marker.size(), kLiveJobSql);
  return sql;
}

std::string SetVersion() { return "PRAGMA user_version = " + std::to_string(kSchemaVersion) + ";\n"; }

std::string IdsBytes(const std::vector<std::string>& ids) {
  wire::List list;
  for (const auto& id : ids) list.push_back(wire::Datum(wire::Text{id}));
  std::string out;
  wire::EncodeMsgpack(wire::Datum(std::move(list)), &out);
  return out;
}

std::string RunsBytes(const std::vector<int64_t>& runs) {
  wire::List list;
  for (int64_t r : runs) list.push_back(wire::Datum(r));
  std::string out;
  wire::EncodeMsgpack(wire::Datum(std::move(list)), &out);
  return out;
}

// The spec column: the JobSpec map (ToDatum: schema order, absent fields left out). A gate's also holds
// "kind": "GATE" and its "message" after `file`, as journals always have; a job with secret_env holds
// "sealed_secret_env" (the msgpack list, sealed by `box`) in its place. Keys of the journal, not of
// JobSpec, so they are written by name here and read back by name in journal_load.cc.
std::string SpecBytes(const Job& j, const security::SecretBox* box) {
  wire::Datum spec;
  if (j.spec.secret_env) {
    wire::JobSpec open = j.spec;
    open.secret_env.reset();
    spec = open.ToDatum();
    wire::List secrets;
    for (const std::string& e : *j.spec.secret_env) secrets.push_back(wire::Datum(wire::Text{e}));
    std::string plain;
    wire::EncodeMsgpack(wire::Datum(std::move(secrets)), &plain);
    std::get<wire::Map>(spec.v).emplace_back("sealed_secret_env", wire::Datum(wire::Bytes{box->Seal(plain)}));
  } else {
    spec = j.spec.ToDatum();
  }
  if (j.gate) {
    auto& map = std::get<wire::Map>(spec.v);
    const wire::Map gate = {{"kind", wire::Datum(wire::Text{"GATE"})},
                            {"message", wire::Datum(wire::Text{j.message})}};
    map.insert(map.begin() + std::min<size_t>(2, map.size()), gate.begin(), gate.end());  // id, file first
  }
  std::string out;
  wire::EncodeMsgpack(spec, &out);
  return out;
}

}  // namespace

Status Journal::Open(const std::string& path, bool fsync_commits) {
  path_ = path;
  dir_ = std::filesystem::path(path).parent_path().string();
  secrets_path_ = (std::filesystem::path(dir_) / "secrets.key").string();
  box_.reset();
  audit_ = security::AuditLog();
  auto db = std::make_unique<sqlite::Db>();
  Status s = db->Open(path, /*durable=*/true);
  if (s.ok() && !fsync_commits) s = db->Exec("PRAGMA synchronous=NORMAL");
  db_ = std::move(db);
  if (!s.ok()) return Damaged(s);
  if (s = Migrate(); !s.ok()) return Damaged(s);
  if (s = db_->Exec(kTruncatedLogs); !s.ok()) return Damaged(s);
  if (s = db_->Exec(kJobUsage); !s.ok()) return Damaged(s);
  return PrepareAll();
}

Status Journal::OpenPostgres(const std::string& uri, const std::string& dir) {
  path_ = pg::Redacted(uri);
  dir_ = dir;
  secrets_path_ = (std::filesystem::path(dir_) / "secrets.key").string();
  box_.reset();
  audit_ = security::AuditLog();
  Result<std::unique_ptr<pg::Db>> db = pg::Db::Connect(uri);
  if (!db.ok()) return db.status();
  db_ = std::move(db).value();
  if (Status s = MigratePostgres(); !s.ok()) return s;
  return PrepareAll();
}

Status Journal::PrepareAll() {
  // The upserts are in the syntax both SQLite and PostgreSQL accept.
  struct {
    std::unique_ptr<sql::Statement>* stmt;
    const char* sql;
  } const statements[] = {
      {&insert_file_, "INSERT INTO files(hash, name, content) VALUES(?1, ?2, ?3) ON CONFLICT DO NOTHING"},
      {&insert_job_,
       "INSERT INTO jobs VALUES(?2, ?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
       "?18)"},
      {&update_job_,
       "UPDATE jobs SET state = ?2, attempt = ?3, worker = ?4, exit_code = ?5, reason = ?6, "
       "started_ms = ?7, finished_ms = ?8, lost = ?9, decided_by = ?10, epoch = ?11 WHERE seq = ?1"},
      {&insert_dag_,
       "INSERT INTO dags(id, name, agent_run_id, submitted_ms, job_ids, job_runs, token) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
      {&put_schedule_,
       "INSERT INTO schedules VALUES(?1, ?2, ?3) ON CONFLICT(name) DO UPDATE SET "
       "definition = excluded.definition, last_ms = excluded.last_ms"},
      {&delete_schedule_, "DELETE FROM schedules WHERE name = ?1"},
      {&put_volume_,
       "INSERT INTO volumes VALUES(?1, ?2) ON CONFLICT(name) DO UPDATE SET info = excluded.info"},
      {&delete_volume_, "DELETE FROM volumes WHERE name = ?1"},
      {&mark_truncated_, "INSERT INTO truncated_logs(seq) VALUES(?1) ON CONFLICT DO NOTHING"},
      {&put_usage_,
       "INSERT INTO job_usage(seq, usage) VALUES(?1, ?2) ON CONFLICT(seq) DO UPDATE SET usage = "
       "excluded.usage"},
  };
  for (const auto& st : statements) {
    if (Status s = db_->Prepare(st.sql, st.stmt); !s.ok()) return s;
  }
  if (Status s = PrepareFinds(); !s.ok()) return s;
  return audit_.Open(db_.get());
}

Status Journal::QueryInt(const char* sql, int64_t* out) {
  // The statement is finished (destroyed) on return, so it does not hold the file open for reading
  // while an upgrade writes.
  std::unique_ptr<sql::Statement> st;
  if (Status s = db_->Prepare(sql, &st); !s.ok()) return s;
  *out = st->Step() ? st->ColumnInt(0) : 0;
  return st->status();
}

Status Journal::Migrate() {
  int64_t have = 0, tables = 0;
  if (Status s = QueryInt("PRAGMA user_version", &have); !s.ok()) return s;
  if (have > kSchemaVersion) {
    return Status::Error("the journal has schema version " + std::to_string(have) +
                         ", newer than this broker's " + std::to_string(kSchemaVersion) +
                         "; run the titan version that wrote it");
  }
  if (have == kSchemaVersion) return db_->Exec(std::string(kSchema) + Indexes());
  std::string upgrade;
  bool fill_runs = true;  // versions before 4 derived runs
  if (have == 4) {
    upgrade = std::string("BEGIN IMMEDIATE;\n") + kUpgradeVersion4 + kSchema;  // and tables added whole since
    fill_runs = false;
  } else if (have == 2 || have == 3) {
    upgrade = std::string("BEGIN IMMEDIATE;\n") + (have == 2 ? kUpgradeVersion2 : "") + kUpgradeVersion3 +
              kUpgradeVersion4;
  } else {
    if (Status s =
            QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jobs'", &tables);
        !s.ok()) {
      return s;
    }
    if (tables == 0) return db_->Exec(std::string(kSchema) + Indexes() + SetVersion());
    upgrade = std::string(kRenameVersion1) + kSchema + kCopyVersion1;
  }
  upgrade += Indexes() + (fill_runs ? kFillRuns : "") + SetVersion() + "COMMIT;";
  if (Status s = db_->Exec(upgrade); !s.ok()) {
    db_->Rollback();
    return Status::Error("cannot upgrade the journal from schema version " + std::to_string(have) + " to " +
                         std::to_string(kSchemaVersion) + ": " + s.message());
  }
  return Status::Ok();
}

Status Journal::BeginIfNeeded() {
  if (in_txn_) return Status::Ok();
  const Status s = db_->Begin();
  in_txn_ = s.ok();
  return s;
}

Status Journal::Commit() {
  if (!in_txn_) return Status::Ok();
  const Status s = db_->Commit();  // a failed commit is rolled back
  in_txn_ = false;
  return s;
}

void Journal::Rollback() {
  db_->Rollback();
  in_txn_ = false;
}

Status Journal::ProbeSpace() {
  if (in_txn_) return Status(Status::Code::kInternal, "the journal's space probe ran inside a turn");
  return db_->ProbeWrite(kProbeBytes);
}

Status Journal::SetFullForTesting(bool full) {
  if (postgres()) return Status::Error("a full disk can only be simulated on an SQLite journal");
  // SQLite keeps the limit at least the current size: 1 means "as large as it is".
  return db_->Exec(full ? "PRAGMA max_page_count = 1" : "PRAGMA max_page_count = 1073741823");
}

Status Journal::MarkLogTruncated(const Job& j) {
  if (!j.log_truncated) return Status::Ok();
  mark_truncated_->Reset();
  mark_truncated_->Bind(1, j.seq).Step();
  return mark_truncated_->status();
}

Status Journal::PutUsage(const Job& j) {
  if (!j.usage) return Status::Ok();
  std::string bytes;
  wire::EncodeMsgpack(j.usage->ToDatum(), &bytes);
  put_usage_->Reset();
  put_usage_->Bind(1, j.seq).Bind(2, bytes).Step();
  return put_usage_->status();
}

Status Journal::InsertFile(const std::string& hash, const std::string& name, const std::string& content) {
  insert_file_->Reset();
  insert_file_->Bind(1, hash).Bind(2, name).Bind(3, content).Step();
  return insert_file_->status();
}

Result<const security::SecretBox*> Journal::Box(bool create) {
  if (!box_) {
    Result<security::SecretBox> box = security::SecretBox::Load(secrets_path_, create);
    if (!box.ok()) return box.status();
    box_ = std::move(box).value();
  }
  return &*box_;
}

Status Journal::InsertJob(const Job& j) {
  const security::SecretBox* box = nullptr;
  if (j.spec.secret_env) {
    Result<const security::SecretBox*> made = Box(/*create=*/true);
    if (!made.ok()) return made.status().Within("cannot seal job '" + j.id + "''s secret_env");
    box = made.value();
  }
  insert_job_->Reset();
  insert_job_->Bind(1, j.id).Bind(2, j.seq).Bind(3, SpecBytes(j, box)).Bind(4, j.file_hash).Bind(5, j.dag);
  insert_job_->Bind(6, std::string_view(StateName(j.state))).Bind(7, j.attempt).Bind(8, j.worker);
  if (j.exit_code) insert_job_->Bind(9, *j.exit_code);
  insert_job_->Bind(10, j.reason).Bind(11, j.submitted_ms).Bind(12, j.started_ms).Bind(13, j.finished_ms);
  insert_job_->Bind(14, j.lost).Bind(15, j.decided_by).Bind(16, j.run).Bind(17, j.first_attempt);
  insert_job_->Bind(18, j.epoch).Step();
  if (!insert_job_->status().ok()) return insert_job_->status();
  if (Status s = PutUsage(j); !s.ok()) return s;
  return MarkLogTruncated(j);
}

Status Journal::UpdateJob(const Job& j) {
  update_job_->Reset();
  update_job_->Bind(1, j.seq)
      .Bind(2, std::string_view(StateName(j.state)))
      .Bind(3, j.attempt)
      .Bind(4, j.worker);
  if (j.exit_code) update_job_->Bind(5, *j.exit_code);
  update_job_->Bind(6, j.reason).Bind(7, j.started_ms).Bind(8, j.finished_ms).Bind(9, j.lost);
  update_job_->Bind(10, j.decided_by).Bind(11, j.epoch).Step();
  if (!update_job_->status().ok()) return update_job_->status();
  if (Status s = PutUsage(j); !s.ok()) return s;
  return MarkLogTruncated(j);
}

Status Journal::InsertDag(const Dag& d) {
  insert_dag_->Reset();
  insert_dag_->Bind(1, d.id).Bind(2, d.name).Bind(3, d.agent_run_id).Bind(4, d.submitted_ms);
  insert_dag_->Bind(5, IdsBytes(d.job_ids)).Bind(6, RunsBytes(d.job_runs));
  if (!d.token.empty()) insert_dag_->Bind(7, d.token);  // unbound: NULL, no token
  insert_dag_->Step();
  return insert_dag_->status();
}

Status Journal::PutSchedule(const std::string& name, const std::string& definition, int64_t last_ms,
                            bool secret) {
  std::string sealed;
  if (secret) {
    Result<const security::SecretBox*> box = Box(/*create=*/true);
    if (!box.ok()) return box.status().Within("cannot seal schedule '" + name + "''s secret_env");
    sealed = box.value()->Seal(definition);
  }
  put_schedule_->Reset();
  put_schedule_->Bind(1, name).Bind(2, secret ? sealed : definition).Bind(3, last_ms).Step();
  return put_schedule_->status();
}

Status Journal::DeleteSchedule(const std::string& name) {
  delete_schedule_->Reset();
  delete_schedule_->Bind(1, name).Step();
  return delete_schedule_->status();
}

Status Journal::PutVolume(const std::string& name, const std::string& info) {
  put_volume_->Reset();
  put_volume_->Bind(1, name).Bind(2, info).Step();
  return put_volume_->status();
}

Status Journal::DeleteVolume(const std::string& name) {
  delete_volume_->Reset();
  delete_volume_->Bind(1, name).Step();
  return delete_volume_->status();
}

}  // namespace titan::broker
