// Reading the broker journal back. A row that cannot be read is reported (or, with salvage, skipped
// and logged), never replaced by defaults; a file SQLite cannot read is reported as damaged. The same
// SQL reads both backends (base/sql_db.h).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/journal.h"
#include "schemas/cpp/codec.h"

namespace titan::broker {

namespace {

constexpr const char* kSelectJobs = "SELECT " TITAN_JOB_COLUMNS " FROM jobs ORDER BY seq";
constexpr const char* kSelectJobRange =
    "SELECT " TITAN_JOB_COLUMNS " FROM jobs WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq";
constexpr const char* kSelectDags = "SELECT " TITAN_DAG_COLUMNS " FROM dags ORDER BY seq";
constexpr const char* kSelectDagsFrom = "SELECT " TITAN_DAG_COLUMNS " FROM dags WHERE seq >= ?1 ORDER BY seq";

// The keys a gate's spec holds besides JobSpec's (journal.cc SpecBytes): "kind": "GATE" and its
// "message". Read by name: they are the journal's, not the protocol's.
Status ReadGateKeys(const wire::Map& spec, Job* j) {
  for (const auto& [key, value] : spec) {
    if ((key != "kind" && key != "message") || value.is_nil()) continue;
    if (!value.is_value()) return Status::Invalid("has a bad spec: spec field '" + key + "' is not a string");
    if (key == "kind") j->gate = value.bytes() == "GATE";
    if (key == "message") j->message = std::string(value.bytes());
  }
  return Status::Ok();
}

}  // namespace

// The secret_env sealed in a spec ("sealed_secret_env", journal.cc SpecBytes) into j->spec.
Status Journal::UnsealSecretEnv(const wire::Map& spec, Job* j) {
  for (const auto& [key, value] : spec) {
    if (key != "sealed_secret_env") continue;
    if (!value.is_value()) return Status::Invalid("has a bad spec: sealed_secret_env is not bytes");
    Result<const security::SecretBox*> box = Box(/*create=*/false);
    if (!box.ok()) return Status::Invalid("has a sealed secret_env and " + box.message());
    Result<std::string> plain = box.value()->Open(value.bytes());
    if (!plain.ok()) return Status::Invalid(plain.message() + " (key file '" + secrets_path_ + "')");
    wire::Datum list;
    std::string error;
    std::vector<std::string> env;
    const auto* items = wire::DecodeMsgpack(plain.value(), 1 << 20, &list, &error)
                            ? std::get_if<wire::List>(&list.v)
                            : nullptr;
    if (items == nullptr) return Status::Invalid("has a sealed secret_env that is not a list");
    for (const wire::Datum& e : *items) {
      if (!e.is_value()) return Status::Invalid("has a sealed secret_env entry that is not a string");
      env.emplace_back(e.bytes());
    }
    j->spec.secret_env = std::move(env);
  }
  return Status::Ok();
}

// A jobs row's spec column decoded into j->spec (its secret_env unsealed) and applied. The error is what
// is wrong with it.
Status Journal::ReadSpec(std::string_view blob, Job* j) {
  wire::Datum spec;
  std::string error;
  if (!wire::DecodeMsgpack(blob, 1 << 20, &spec, &error))
    return Status::Invalid("has a spec that does not decode (" + error + ")");
  const auto* map = std::get_if<wire::Map>(&spec.v);
  if (map == nullptr) return Status::Invalid("has a spec that is not a map");
  // The spec is forwarded to workers: every JobSpec field must have the schema's type. Checked as part
  // of a JOB_SUBMIT, so the error reads as the codec's.
  const wire::Message probe = wire::MakeMessage(wire::MsgType::kJobSubmit)
                                  .Set("jobs", wire::Datum(wire::List{spec}))
                                  .Set("files", wire::Datum(wire::List{}));
  if (!wire::Validate(probe, &error)) return Status::Invalid("has a spec the schema refuses (" + error + ")");
  Result<wire::JobSpec> typed = wire::JobSpec::From(spec);
  if (!typed.ok()) return Status::Invalid("has a spec the schema refuses (" + typed.message() + ")");
  j->spec = std::move(typed).value();
  if (Status s = UnsealSecretEnv(*map, j); !s.ok()) return s;
  ApplySpec(*j);
  return ReadGateKeys(*map, j);
}

// One jobs row, its spec decoded and applied. The error is what is wrong with the row.
Result<Job> Journal::ReadJob(sql::Statement& row) {
  Job j;
  j.id = std::string(row.ColumnBlob(0));
  j.seq = row.ColumnInt(1);
  if (j.id.empty()) return Status::Invalid("has an empty job id");
  if (Status s = ReadSpec(row.ColumnBlob(2), &j); !s.ok()) return s;
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
  j.run = std::max<int64_t>(1, row.ColumnInt(16));
  j.first_attempt = std::max<int64_t>(1, row.ColumnInt(17));
  j.log_truncated = row.ColumnInt(18) != 0;
  j.epoch = row.ColumnInt(20);
  if (const std::string_view usage = row.ColumnBlob(19); !usage.empty()) {
    wire::Datum d;
    std::string error;
    if (!wire::DecodeMsgpack(usage, 1 << 16, &d, &error))
      return Status::Invalid("has a usage that does not decode: " + error);
    Result<wire::JobUsage> decoded = wire::JobUsage::From(d);
    if (!decoded.ok()) return Status::Invalid("has a usage that does not read: " + decoded.message());
    j.usage = std::move(decoded).value();
  }
  return j;
}

namespace {

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

}  // namespace

Result<Dag> Journal::ReadDag(sql::Statement& row) {
  Dag d{std::string(row.ColumnBlob(0)),
        std::string(row.ColumnBlob(1)),
        std::string(row.ColumnBlob(2)),
        {},
        row.ColumnInt(3)};
  d.token = std::string(row.ColumnBlob(7));  // NULL: ""
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
  if (s.ok() || db_ == nullptr || !db_->Damaged()) return s;
  return Status(Status::Code::kInternal,
                "the journal " + path_ + " is damaged (" + s.message() +
                    "): SQLite cannot read it, so --salvage cannot either. Move it aside to start with an "
                    "empty journal, or rebuild it from what SQLite can still read (`sqlite3 " +
                    path_ + " .recover | sqlite3 recovered.db`) and put that in its place");
}

Status Journal::Load(const Visitor& visit, bool salvage, LoadReport* report, int64_t recent) {
  LoadReport local;
  if (report == nullptr) report = &local;
  if (Status s = LoadFiles(visit); !s.ok()) return s;
  if (recent <= 0) {
    if (Status s = LoadJobs(visit, salvage, report); !s.ok()) return s;
    if (Status s = LoadDags(visit, salvage, report); !s.ok()) return s;
    if (Status s = LoadSchedules(visit, salvage, report); !s.ok()) return s;
    return LoadVolumes(visit, salvage, report);
  }
  std::vector<std::pair<int64_t, int64_t>> ranges;
  if (Status s = RecentRanges(recent, &ranges); !s.ok()) return Damaged(s);
  std::set<std::string> dags;  // of the jobs read back: only their DAG rows are read
  for (const auto& [first, last] : ranges) {
    if (Status s = LoadJobRange(visit, salvage, report, first, last, &dags); !s.ok()) return s;
  }
  if (Status s = QueryInt("SELECT coalesce(max(seq), 0) FROM jobs", &report->last_job_seq); !s.ok())
    return Damaged(s);
  report->partial = ranges.size() != 1 || ranges.front().first > 1;
  // DAG rows are in the order of their jobs' rows: those from the first job read back's DAG on, the older
  // live submissions' by id.
  int64_t from = 0;
  for (size_t i = 0; i + 1 < ranges.size(); ++i) {
    if (Status s = LoadDagById(visit, salvage, report, ranges[i].first); !s.ok()) return s;
  }
  if (Status s = DagSeqOfJob(ranges.back().first, &from); !s.ok()) return Damaged(s);
  std::unique_ptr<sql::Statement> rows;
  if (Status s = db_->Prepare(kSelectDagsFrom, &rows); !s.ok()) return Damaged(s);
  rows->Bind(1, from);
  if (Status s = LoadDagRows(visit, salvage, report, *rows, &dags); !s.ok()) return s;
  if (Status s = LoadSchedules(visit, salvage, report); !s.ok()) return s;
  return LoadVolumes(visit, salvage, report);
}

Status Journal::LoadFiles(const Visitor& visit) {
  std::unique_ptr<sql::Statement> files;
  if (Status s = db_->Prepare("SELECT hash, content FROM files", &files); !s.ok()) return Damaged(s);
  while (files->Step()) visit.file(std::string(files->ColumnBlob(0)), std::string(files->ColumnBlob(1)));
  return Damaged(files->status());
}

Status Journal::LoadJobs(const Visitor& visit, bool salvage, LoadReport* report) {
  std::unique_ptr<sql::Statement> rows;
  if (Status s = db_->Prepare(kSelectJobs, &rows); !s.ok()) return Damaged(s);
  return LoadJobRows(visit, salvage, report, *rows, nullptr);
}

Status Journal::LoadJobRange(const Visitor& visit, bool salvage, LoadReport* report, int64_t first,
                             int64_t last, std::set<std::string>* dags) {
  std::unique_ptr<sql::Statement> rows;
  if (Status s = db_->Prepare(kSelectJobRange, &rows); !s.ok()) return Damaged(s);
  rows->Bind(1, first).Bind(2, last);
  return LoadJobRows(visit, salvage, report, *rows, dags);
}

Status Journal::LoadJobRows(const Visitor& visit, bool salvage, LoadReport* report, sql::Statement& rows,
                            std::set<std::string>* dags) {
  while (rows.Step()) {
    const int64_t seq = rows.ColumnInt(1);
    report->last_job_seq = std::max(report->last_job_seq, seq);
    if (dags != nullptr) dags->emplace(rows.ColumnBlob(4));
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
  std::unique_ptr<sql::Statement> rows;
  if (Status s = db_->Prepare(kSelectDags, &rows); !s.ok()) return Damaged(s);
  return LoadDagRows(visit, salvage, report, *rows, nullptr);
}

Status Journal::LoadDagRows(const Visitor& visit, bool salvage, LoadReport* report, sql::Statement& rows,
                            const std::set<std::string>* only) {
  while (rows.Step()) {
    if (only != nullptr && !only->count(std::string(rows.ColumnBlob(0)))) continue;
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
  std::unique_ptr<sql::Statement> st;
  if (Status s = db_->Prepare("SELECT name, definition, last_ms FROM schedules", &st); !s.ok())
    return Damaged(s);
  sql::Statement& rows = *st;
  while (rows.Step()) {
    const std::string name(rows.ColumnBlob(0));
    std::string definition(rows.ColumnBlob(1));
    Status read = Status::Ok();
    if (security::SecretBox::IsSealed(definition)) {  // PutSchedule sealed it: its jobs have secret_env
      Result<const security::SecretBox*> box = Box(/*create=*/false);
      Result<std::string> plain =
          box.ok() ? box.value()->Open(definition) : Result<std::string>(box.status());
      if (plain.ok()) definition = std::move(plain).value();
      if (!plain.ok()) read = Status::Invalid("has a sealed definition and " + plain.message());
    }
    if (read.ok()) read = visit.schedule(name, std::move(definition), rows.ColumnInt(2));
    if (read.ok()) continue;
    if (Status s = Corrupt("journal schedule '" + name + "'", read.message(), salvage, report); !s.ok())
      return s;
  }
  return Damaged(rows.status());
}

Status Journal::LoadVolumes(const Visitor& visit, bool salvage, LoadReport* report) {
  if (!visit.volume) return Status::Ok();
  std::unique_ptr<sql::Statement> st;
  if (Status s = db_->Prepare("SELECT name, info FROM volumes ORDER BY name", &st); !s.ok())
    return Damaged(s);
  sql::Statement& rows = *st;
  while (rows.Step()) {
    const std::string name(rows.ColumnBlob(0));
    Status read = visit.volume(name, std::string(rows.ColumnBlob(1)));
    if (read.ok()) continue;
    if (Status s = Corrupt("journal volume '" + name + "'", read.message(), salvage, report); !s.ok())
      return s;
  }
  return Damaged(rows.status());
}

}  // namespace titan::broker
