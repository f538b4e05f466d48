// SQLite tables behind the broker journal, and reading them back (corrupt rows are reported).
#include "broker/journal.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "schemas/cpp/codec.h"

namespace titan::broker {
namespace {

// Schema version 3 (PRAGMA user_version). Jobs and DAGs are keyed by their submission sequence (the
// rowid): a new one is an append and a job's update finds its row directly. An id may appear in
// several rows: the runs of a reused id, in submission order (the broker refuses an id whose latest
// run is not final). A DAG names its jobs by id and run (job_runs; empty in rows from before runs).
constexpr int kSchemaVersion = 3;
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS files(hash TEXT PRIMARY KEY, name TEXT NOT NULL, content BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs(
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL, spec BLOB NOT NULL, file_hash TEXT NOT NULL, dag TEXT NOT NULL,
  state TEXT NOT NULL, attempt INTEGER NOT NULL, worker TEXT NOT NULL, exit_code INTEGER, reason TEXT NOT NULL,
  submitted_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL, lost INTEGER NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS dags(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL,
  agent_run_id TEXT NOT NULL, submitted_ms INTEGER NOT NULL, job_ids BLOB NOT NULL,
  job_runs BLOB NOT NULL DEFAULT x'');
CREATE TABLE IF NOT EXISTS schedules(name TEXT PRIMARY KEY, definition BLOB NOT NULL, last_ms INTEGER NOT NULL);
)sql";

// Version 1 (before user_version was set) keyed jobs by id and kept a unique index on DAG ids. Its
// tables are renamed, kSchema creates the version 2 ones, and the rows move over unchanged, all in one
// transaction (MigrateFrom1).
constexpr const char* kRenameVersion1 = R"sql(
BEGIN IMMEDIATE;
ALTER TABLE jobs RENAME TO jobs_v1;
ALTER TABLE dags RENAME TO dags_v1;
)sql";
constexpr const char* kCopyVersion1 = R"sql(
INSERT INTO jobs SELECT seq, id, spec, file_hash, dag, state, attempt, worker, exit_code, reason, submitted_ms,
  started_ms, finished_ms, lost, decided_by FROM jobs_v1;
INSERT INTO dags(seq, id, name, agent_run_id, submitted_ms, job_ids)
  SELECT seq, id, name, agent_run_id, submitted_ms, job_ids FROM dags_v1;
DROP TABLE jobs_v1;
DROP TABLE dags_v1;
)sql";

// Version 2 lacked dags.job_runs; every DAG of it names run 1 of its jobs (ids were never reused).
constexpr const char* kUpgradeVersion2 = R"sql(
BEGIN IMMEDIATE;
ALTER TABLE dags ADD COLUMN job_runs BLOB NOT NULL DEFAULT x'';
)sql";

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

std::string SpecBytes(const wire::Map& spec) {
  std::string out;
  wire::EncodeMsgpack(wire::Datum(spec), &out);
  return out;
}

}  // namespace

Status Journal::Open(const std::string& path) {
  path_ = path;
  Status s = db_.Open(path, /*durable=*/true);
  if (!s.ok()) return Damaged(s);
  if (s = Migrate(); !s.ok()) return Damaged(s);
  struct {
    sqlite::Statement* stmt;
    const char* sql;
  } const statements[] = {
      {&begin_, "BEGIN"},
      {&commit_, "COMMIT"},
      {&insert_file_, "INSERT OR IGNORE INTO files(hash, name, content) VALUES(?1, ?2, ?3)"},
      {&insert_job_,
       "INSERT INTO jobs VALUES(?2, ?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"},
      {&update_job_,
       "UPDATE jobs SET state = ?2, attempt = ?3, worker = ?4, exit_code = ?5, reason = ?6, "
       "started_ms = ?7, finished_ms = ?8, lost = ?9, decided_by = ?10 WHERE seq = ?1"},
      {&insert_dag_,
       "INSERT INTO dags(id, name, agent_run_id, submitted_ms, job_ids, job_runs) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
      {&put_schedule_,
       "INSERT INTO schedules VALUES(?1, ?2, ?3) ON CONFLICT(name) DO UPDATE SET "
       "definition = excluded.definition, last_ms = excluded.last_ms"},
      {&delete_schedule_, "DELETE FROM schedules WHERE name = ?1"},
  };
  for (const auto& st : statements) {
    if (s = db_.Prepare(st.sql, st.stmt); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Journal::Migrate() {
  // Each query is finished (its statement destroyed) before the next, so none holds the file open for
  // reading while the upgrade writes.
  auto count = [this](const char* sql, int64_t* out) {
    sqlite::Statement st;
    if (Status s = db_.Prepare(sql, &st); !s.ok()) return s;
    *out = st.Step() ? st.ColumnInt(0) : 0;
    return st.status();
  };
  int64_t have = 0, tables = 0;
  if (Status s = count("PRAGMA user_version", &have); !s.ok()) return s;
  if (have > kSchemaVersion) {
    return Status::Error("the journal has schema version " + std::to_string(have) +
                         ", newer than this broker's " + std::to_string(kSchemaVersion) +
                         "; run the titan version that wrote it");
  }
  if (have == kSchemaVersion) return db_.Exec(kSchema);
  if (have == 2) {
    if (Status s = db_.Exec(std::string(kUpgradeVersion2) + SetVersion() + "COMMIT;"); !s.ok()) {
      db_.Rollback();
      return Status::Error("cannot upgrade the journal from schema version 2 to " +
                           std::to_string(kSchemaVersion) + ": " + s.message());
    }
    return Status::Ok();
  }
  if (Status s = count("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jobs'", &tables);
      !s.ok()) {
    return s;
  }
  if (tables > 0) {
    const std::string upgrade =
        std::string(kRenameVersion1) + kSchema + kCopyVersion1 + SetVersion() + "COMMIT;";
    if (Status s = db_.Exec(upgrade); !s.ok()) {
      db_.Rollback();
      return Status::Error("cannot upgrade the journal to schema version " + std::to_string(kSchemaVersion) +
                           ": " + s.message());
    }
    return Status::Ok();
  }
  return db_.Exec(std::string(kSchema) + SetVersion());
}

Status Journal::BeginIfNeeded() {
  if (in_txn_) return Status::Ok();
  begin_.Reset();
  begin_.Step();
  in_txn_ = begin_.status().ok();
  return begin_.status();
}

Status Journal::Commit() {
  if (!in_txn_) return Status::Ok();
  commit_.Reset();
  commit_.Step();
  if (!commit_.status().ok()) {
    db_.Rollback();
  }
  in_txn_ = false;
  return commit_.status();
}

Status Journal::InsertFile(const std::string& hash, const std::string& name, const std::string& content) {
  insert_file_.Reset();
  insert_file_.Bind(1, hash).Bind(2, name).Bind(3, content).Step();
  return insert_file_.status();
}

Status Journal::InsertJob(const Job& j) {
  insert_job_.Reset();
  insert_job_.Bind(1, j.id).Bind(2, j.seq).Bind(3, SpecBytes(j.spec)).Bind(4, j.file_hash).Bind(5, j.dag);
  insert_job_.Bind(6, std::string_view(StateName(j.state))).Bind(7, j.attempt).Bind(8, j.worker);
  if (j.exit_code) insert_job_.Bind(9, *j.exit_code);
  insert_job_.Bind(10, j.reason).Bind(11, j.submitted_ms).Bind(12, j.started_ms).Bind(13, j.finished_ms);
  insert_job_.Bind(14, j.lost).Bind(15, j.decided_by).Step();
  return insert_job_.status();
}

Status Journal::UpdateJob(const Job& j) {
  update_job_.Reset();
  update_job_.Bind(1, j.seq)
      .Bind(2, std::string_view(StateName(j.state)))
      .Bind(3, j.attempt)
      .Bind(4, j.worker);
  if (j.exit_code) update_job_.Bind(5, *j.exit_code);
  update_job_.Bind(6, j.reason).Bind(7, j.started_ms).Bind(8, j.finished_ms).Bind(9, j.lost);
  update_job_.Bind(10, j.decided_by).Step();
  return update_job_.status();
}

Status Journal::InsertDag(const Dag& d) {
  insert_dag_.Reset();
  insert_dag_.Bind(1, d.id).Bind(2, d.name).Bind(3, d.agent_run_id).Bind(4, d.submitted_ms);
  insert_dag_.Bind(5, IdsBytes(d.job_ids)).Bind(6, RunsBytes(d.job_runs)).Step();
  return insert_dag_.status();
}

Status Journal::PutSchedule(const std::string& name, const std::string& definition, int64_t last_ms) {
  put_schedule_.Reset();
  put_schedule_.Bind(1, name).Bind(2, definition).Bind(3, last_ms).Step();
  return put_schedule_.status();
}

Status Journal::DeleteSchedule(const std::string& name) {
  delete_schedule_.Reset();
  delete_schedule_.Bind(1, name).Step();
  return delete_schedule_.status();
}

namespace {

constexpr const char* kSelectJobs =
    "SELECT id, seq, spec, file_hash, dag, state, attempt, worker, exit_code, reason, submitted_ms, "
    "started_ms, "
    "finished_ms, lost, exit_code IS NULL, decided_by FROM jobs ORDER BY seq";
constexpr const char* kSelectDags =
    "SELECT id, name, agent_run_id, submitted_ms, job_ids, job_runs, seq FROM dags ORDER BY seq";

// One jobs row, its spec decoded and applied. The error is what is wrong with the row.
Result<Job> ReadJob(sqlite::Statement& row) {
  Job j;
  j.id = std::string(row.ColumnBlob(0));
  j.seq = row.ColumnInt(1);
  if (j.id.empty()) return Status::Invalid("has an empty job id");
  wire::Datum spec;
  std::string error;
  if (!wire::DecodeMsgpack(row.ColumnBlob(2), 1 << 20, &spec, &error))
    return Status::Invalid("has a spec that does not decode (" + error + ")");
  auto* map = std::get_if<wire::Map>(&spec.v);
  if (map == nullptr) return Status::Invalid("has a spec that is not a map");
  // The spec is forwarded to workers as is: every JobSpec field must have the schema's type.
  std::string refused;
  const wire::Message probe = wire::MakeMessage(wire::MsgType::kJobSubmit)
                                  .Set("jobs", wire::Datum(wire::List{spec}))
                                  .Set("files", wire::Datum(wire::List{}));
  if (!wire::Validate(probe, &refused))
    return Status::Invalid("has a spec the schema refuses (" + refused + ")");
  j.spec = std::move(*map);
  if (Status s = ApplySpec(j); !s.ok()) return Status::Invalid("has a bad spec: " + s.message());
  j.file_hash = std::string(row.ColumnBlob(3));
  j.dag = std::string(row.ColumnBlob(4));
  const std::optional<JobState> state = StateFromName(row.ColumnBlob(5));
  if (!state) return Status::Invalid("has unknown state '" + std::string(row.ColumnBlob(5)) + "'");
  j.state = *state;
  j.attempt = row.ColumnInt(6);
  j.worker = std::string(row.ColumnBlob(7));
  if (row.ColumnInt(14) == 0) j.exit_code = row.ColumnInt(8);
  j.reason = std::string(row.ColumnBlob(9));
  j.submitted_ms = row.ColumnInt(10);
  j.started_ms = row.ColumnInt(11);
  j.finished_ms = row.ColumnInt(12);
  j.lost = row.ColumnInt(13);
  j.decided_by = std::string(row.ColumnBlob(15));
  return j;
}

// A msgpack list in a blob, each item checked by `read`; false when it is anything else.
template <typename T, typename Read>
bool ReadList(std::string_view blob, Read read, std::vector<T>* out, std::string* error) {
  wire::Datum d;
  if (!wire::DecodeMsgpack(blob, 1 << 24, &d, error)) return false;
  const auto* list = std::get_if<wire::List>(&d.v);
  if (list == nullptr) return false;
  for (const auto& item : *list) {
    if (!read(item, out)) return false;
  }
  return true;
}

Result<Dag> ReadDag(sqlite::Statement& row) {
  Dag d{std::string(row.ColumnBlob(0)),
        std::string(row.ColumnBlob(1)),
        std::string(row.ColumnBlob(2)),
        {},
        row.ColumnInt(3)};
  std::string error;
  auto id = [](const wire::Datum& v, std::vector<std::string>* out) {
    if (v.is_value()) out->emplace_back(v.bytes());
    return v.is_value();
  };
  if (!ReadList(row.ColumnBlob(4), id, &d.job_ids, &error)) {
    return Status::Invalid("has a job list that is not a msgpack list of ids" +
                           (error.empty() ? std::string() : " (" + error + ")"));
  }
  if (row.ColumnBlob(5).empty()) return d;  // a DAG from before runs: run 1 of each job
  auto run = [](const wire::Datum& v, std::vector<int64_t>* out) {
    const auto* r = std::get_if<int64_t>(&v.v);
    if (r != nullptr) out->push_back(*r);
    return r != nullptr;
  };
  if (!ReadList(row.ColumnBlob(5), run, &d.job_runs, &error)) {
    return Status::Invalid("has job runs that are not a msgpack list of integers" +
                           (error.empty() ? std::string() : " (" + error + ")"));
  }
  if (d.job_runs.size() != d.job_ids.size()) {
    return Status::Invalid("has " + std::to_string(d.job_runs.size()) + " job runs for " +
                           std::to_string(d.job_ids.size()) + " jobs");
  }
  return d;
}

}  // namespace

Status Journal::Corrupt(const std::string& row, const std::string& problem, bool salvage,
                        LoadReport* report) {
  const std::string what = row + " " + problem;
  if (!salvage) {
    return Status(Status::Code::kInternal,
                  what + "; start with --salvage to skip such rows (they are logged and left in the file)");
  }
  spdlog::error("broker: journal: SKIPPED (--salvage): {}", what);
  report->skipped.push_back(what);
  return Status::Ok();
}

Status Journal::Damaged(Status s) {
  if (s.ok() || db_.raw() == nullptr) return s;
  const int code = sqlite3_errcode(db_.raw()) & 0xff;
  if (code != SQLITE_CORRUPT && code != SQLITE_NOTADB) return s;
  return Status(Status::Code::kInternal,
                "the journal " + path_ + " is damaged (" + s.message() +
                    "): SQLite cannot read it, so --salvage cannot either. Move it aside to start with an "
                    "empty journal, or rebuild it from what SQLite can still read (`sqlite3 " +
                    path_ + " .recover | sqlite3 recovered.db`) and put that in its place");
}

Status Journal::Load(const Visitor& visit, bool salvage, LoadReport* report) {
  LoadReport local;
  if (report == nullptr) report = &local;
  if (Status s = LoadFiles(visit); !s.ok()) return s;
  if (Status s = LoadJobs(visit, salvage, report); !s.ok()) return s;
  if (Status s = LoadDags(visit, salvage, report); !s.ok()) return s;
  return LoadSchedules(visit, salvage, report);
}

Status Journal::LoadFiles(const Visitor& visit) {
  sqlite::Statement files;
  if (Status s = db_.Prepare("SELECT hash, content FROM files", &files); !s.ok()) return Damaged(s);
  while (files.Step()) visit.file(std::string(files.ColumnBlob(0)), std::string(files.ColumnBlob(1)));
  return Damaged(files.status());
}

Status Journal::LoadJobs(const Visitor& visit, bool salvage, LoadReport* report) {
  sqlite::Statement rows;
  if (Status s = db_.Prepare(kSelectJobs, &rows); !s.ok()) return Damaged(s);
  while (rows.Step()) {
    const int64_t seq = rows.ColumnInt(1);
    report->last_job_seq = std::max(report->last_job_seq, seq);
    Result<Job> job = ReadJob(rows);
    if (job.ok()) {
      visit.job(std::move(job.value()));
      continue;
    }
    const std::string row =
        "journal row seq " + std::to_string(seq) + " (job '" + std::string(rows.ColumnBlob(0)) + "')";
    if (Status s = Corrupt(row, job.message(), salvage, report); !s.ok()) return s;
  }
  return Damaged(rows.status());
}

Status Journal::LoadDags(const Visitor& visit, bool salvage, LoadReport* report) {
  sqlite::Statement rows;
  if (Status s = db_.Prepare(kSelectDags, &rows); !s.ok()) return Damaged(s);
  while (rows.Step()) {
    Result<Dag> dag = ReadDag(rows);
    if (dag.ok()) {
      visit.dag(std::move(dag.value()));
      continue;
    }
    const std::string row = "journal DAG row seq " + std::to_string(rows.ColumnInt(6)) + " ('" +
                            std::string(rows.ColumnBlob(0)) + "')";
    if (Status s = Corrupt(row, dag.message(), salvage, report); !s.ok()) return s;
  }
  return Damaged(rows.status());
}

Status Journal::LoadSchedules(const Visitor& visit, bool salvage, LoadReport* report) {
  sqlite::Statement rows;
  if (Status s = db_.Prepare("SELECT name, definition, last_ms FROM schedules", &rows); !s.ok())
    return Damaged(s);
  while (rows.Step()) {
    const std::string name(rows.ColumnBlob(0));
    Status read = visit.schedule(name, std::string(rows.ColumnBlob(1)), rows.ColumnInt(2));
    if (read.ok()) continue;
    if (Status s = Corrupt("journal schedule '" + name + "'", read.message(), salvage, report); !s.ok())
      return s;
  }
  return Damaged(rows.status());
}

}  // namespace titan::broker
