// Reading single jobs and DAGs back from the journal, for those that left the broker's memory
// (retention), and what journal retention and a bounded recovery need: rows scanned without their
// spec, deletes, the count of rows by state, and the seq ranges of the submissions to read back.
#include <spdlog/spdlog.h>

#include "broker/journal.h"

namespace titan::broker {

Status Journal::PrepareFinds() {
  struct {
    std::unique_ptr<sql::Statement>* stmt;
    const char* sql;
  } const statements[] = {
      {&find_latest_, "SELECT " TITAN_JOB_COLUMNS " FROM jobs WHERE id = ?1 ORDER BY seq DESC LIMIT 1"},
      {&find_run_,
       "SELECT " TITAN_JOB_COLUMNS " FROM jobs WHERE id = ?1 AND run = ?2 ORDER BY seq DESC LIMIT 1"},
      {&find_dag_, "SELECT " TITAN_DAG_COLUMNS " FROM dags WHERE id = ?1 ORDER BY seq DESC LIMIT 1"},
      {&find_dag_by_token_, "SELECT " TITAN_DAG_COLUMNS " FROM dags WHERE token = ?1 ORDER BY seq LIMIT 1"},
      {&scan_jobs_,
       "SELECT seq, id, run, dag, state, submitted_ms, finished_ms FROM jobs WHERE seq > ?1 ORDER BY seq "
       "LIMIT ?2"},
      {&delete_job_, "DELETE FROM jobs WHERE seq BETWEEN ?1 AND ?2"},
      {&delete_truncated_, "DELETE FROM truncated_logs WHERE seq BETWEEN ?1 AND ?2"},
      {&delete_usage_, "DELETE FROM job_usage WHERE seq BETWEEN ?1 AND ?2"},
      {&delete_dag_, "DELETE FROM dags WHERE id = ?1"},
  };
  for (const auto& st : statements) {
    if (Status s = db_->Prepare(st.sql, st.stmt); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::optional<Job>> Journal::FindJob(const std::string& id, int64_t run) {
  sql::Statement& st = run > 0 ? *find_run_ : *find_latest_;
  st.Reset();
  st.Bind(1, id);
  if (run > 0) st.Bind(2, run);
  if (!st.Step()) {
    const Status s = st.status();
    st.Reset();
    if (!s.ok()) return s;
    return std::optional<Job>();
  }
  Result<Job> job = ReadJob(st);
  const int64_t seq = st.ColumnInt(1);
  st.Reset();
  if (!job.ok()) {
    return Status::Error("journal row seq " + std::to_string(seq) + " (job '" + id + "') " + job.message());
  }
  return std::optional<Job>(std::move(job).value());
}

Result<std::optional<Dag>> Journal::FindDag(const std::string& id) {
  find_dag_->Reset();
  find_dag_->Bind(1, id);
  if (!find_dag_->Step()) {
    const Status s = find_dag_->status();
    find_dag_->Reset();
    if (!s.ok()) return s;
    return std::optional<Dag>();
  }
  Result<Dag> dag = ReadDag(*find_dag_);
  find_dag_->Reset();
  if (!dag.ok()) return Status::Error("journal DAG '" + id + "' " + dag.message());
  return std::optional<Dag>(std::move(dag).value());
}

Result<std::optional<Dag>> Journal::FindDagByToken(const std::string& token) {
  sql::Statement& st = *find_dag_by_token_;
  st.Reset();
  st.Bind(1, token);
  if (!st.Step()) {
    const Status s = st.status();
    st.Reset();
    if (!s.ok()) return s;
    return std::optional<Dag>();
  }
  Result<Dag> dag = ReadDag(st);
  st.Reset();
  if (!dag.ok()) return Status::Error("journal DAG of token '" + token + "' " + dag.message());
  return std::optional<Dag>(std::move(dag).value());
}

Status Journal::ListJobs(int64_t before, const std::string& state, int64_t max_rows,
                         const std::function<bool(Job)>& visit) {
  std::unique_ptr<sql::Statement> st;
  // `state` is a StateName (checked by the caller), so it may stand in the SQL as a literal.
  const std::string sql = std::string("SELECT ") + TITAN_JOB_COLUMNS + " FROM jobs WHERE seq < ?1" +
                          (state.empty() ? "" : " AND CAST(state AS TEXT) = '" + state + "'") +
                          " ORDER BY seq DESC LIMIT ?2";
  if (Status s = db_->Prepare(sql, &st); !s.ok()) return s;
  sql::Statement& rows = *st;
  rows.Bind(1, before).Bind(2, max_rows);
  while (rows.Step()) {
    Result<Job> job = ReadJob(rows);
    if (!job.ok()) {
      spdlog::error("broker: journal row seq {} (job '{}') {}; left out of the list", rows.ColumnInt(1),
                    rows.ColumnBlob(0), job.message());
      continue;
    }
    if (!visit(std::move(job).value())) break;
  }
  return rows.status();
}

Status Journal::ScanJobs(int64_t after, int64_t limit, std::vector<JobRow>* out) {
  scan_jobs_->Reset();
  scan_jobs_->Bind(1, after).Bind(2, limit);
  while (scan_jobs_->Step()) {
    out->push_back(JobRow{.seq = scan_jobs_->ColumnInt(0),
                          .id = std::string(scan_jobs_->ColumnBlob(1)),
                          .run = std::max<int64_t>(1, scan_jobs_->ColumnInt(2)),
                          .dag = std::string(scan_jobs_->ColumnBlob(3)),
                          .state = std::string(scan_jobs_->ColumnBlob(4)),
                          .submitted_ms = scan_jobs_->ColumnInt(5),
                          .finished_ms = scan_jobs_->ColumnInt(6)});
  }
  const Status s = scan_jobs_->status();
  scan_jobs_->Reset();
  return s;
}

Status Journal::DeleteJobs(int64_t first, int64_t last) {
  delete_job_->Reset();
  delete_job_->Bind(1, first).Bind(2, last).Step();
  if (!delete_job_->status().ok()) return delete_job_->status();
  delete_truncated_->Reset();  // their marks of an incomplete log go with them
  delete_truncated_->Bind(1, first).Bind(2, last).Step();
  if (!delete_truncated_->status().ok()) return delete_truncated_->status();
  delete_usage_->Reset();  // and what they used
  delete_usage_->Bind(1, first).Bind(2, last).Step();
  return delete_usage_->status();
}

Status Journal::DeleteDag(const std::string& id) {
  delete_dag_->Reset();
  delete_dag_->Bind(1, id).Step();
  return delete_dag_->status();
}

Status Journal::CountStates(int64_t (&counts)[kStateCount]) {
  std::fill(std::begin(counts), std::end(counts), 0);
  std::unique_ptr<sql::Statement> st;
  if (Status s = db_->Prepare("SELECT state, count(*) FROM jobs GROUP BY state", &st); !s.ok()) return s;
  sql::Statement& rows = *st;
  while (rows.Step()) {
    if (const std::optional<JobState> state = StateFromName(rows.ColumnBlob(0)))
      counts[static_cast<int>(*state)] += rows.ColumnInt(1);
  }
  return rows.status();
}

Status Journal::SubmissionOf(int64_t seq, int64_t* first, int64_t* last) {
  *first = *last = seq;
  std::unique_ptr<sql::Statement> dag_st, walk_st;
  if (Status s = db_->Prepare("SELECT dag FROM jobs WHERE seq = ?1", &dag_st); !s.ok()) return s;
  sql::Statement& dag = *dag_st;
  dag.Bind(1, seq);
  if (!dag.Step()) return dag.status();
  const std::string id(dag.ColumnBlob(0));
  // The jobs of one submission have consecutive seqs: walk out from `seq` while the dag is the same.
  for (const bool down : {true, false}) {
    const char* sql = down ? "SELECT seq, dag FROM jobs WHERE seq < ?1 ORDER BY seq DESC"
                           : "SELECT seq, dag FROM jobs WHERE seq > ?1 ORDER BY seq";
    if (Status s = db_->Prepare(sql, &walk_st); !s.ok()) return s;
    sql::Statement& walk = *walk_st;
    walk.Bind(1, seq);
    while (walk.Step() && walk.ColumnBlob(1) == id) (down ? *first : *last) = walk.ColumnInt(0);
    if (!walk.status().ok()) return walk.status();
  }
  return Status::Ok();
}

Status Journal::RecentRanges(int64_t recent, std::vector<std::pair<int64_t, int64_t>>* ranges) {
  std::unique_ptr<sql::Statement> newest, older;
  if (Status s = db_->Prepare("SELECT seq FROM jobs ORDER BY seq DESC LIMIT 1 OFFSET ?1", &newest); !s.ok())
    return s;
  sql::Statement* st = newest.get();
  st->Bind(1, recent - 1);
  int64_t from = 1, last = 0;
  if (st->Step()) {
    if (Status s = SubmissionOf(st->ColumnInt(0), &from, &last); !s.ok()) return s;
  } else if (!st->status().ok()) {
    return st->status();
  }
  const std::string live =
      std::string("SELECT seq FROM jobs WHERE ") + kLiveJobSql + " AND seq < ?1 ORDER BY seq";
  if (Status s = db_->Prepare(live, &older); !s.ok()) return s;
  st = older.get();
  st->Bind(1, from);
  std::vector<int64_t> live_seqs;
  while (st->Step()) live_seqs.push_back(st->ColumnInt(0));
  if (!st->status().ok()) return st->status();
  for (const int64_t seq : live_seqs) {
    if (!ranges->empty() && seq <= ranges->back().second) continue;  // in the submission just added
    int64_t first = 0;
    if (Status s = SubmissionOf(seq, &first, &last); !s.ok()) return s;
    ranges->emplace_back(first, std::min(last, from - 1));
  }
  ranges->emplace_back(from, INT64_MAX);
  return Status::Ok();
}

Status Journal::DagSeqOfJob(int64_t job_seq, int64_t* dag_seq) {
  *dag_seq = 0;
  std::unique_ptr<sql::Statement> st;
  if (Status s = db_->Prepare("SELECT d.seq FROM jobs AS j JOIN dags AS d ON d.id = j.dag WHERE j.seq >= ?1 "
                              "ORDER BY j.seq, d.seq "
                              "DESC LIMIT 1",
                              &st);
      !s.ok()) {
    return s;
  }
  st->Bind(1, job_seq);
  if (st->Step()) *dag_seq = st->ColumnInt(0);
  return st->status();
}

Status Journal::LoadDagById(const Visitor& visit, bool salvage, LoadReport* report, int64_t job_seq) {
  std::unique_ptr<sql::Statement> st;
  if (Status s = db_->Prepare("SELECT dag FROM jobs WHERE seq = ?1", &st); !s.ok()) return Damaged(s);
  st->Bind(1, job_seq);
  if (!st->Step()) return Damaged(st->status());
  const std::string id(st->ColumnBlob(0));
  std::unique_ptr<sql::Statement> rows;
  if (Status s = db_->Prepare(
          "SELECT " TITAN_DAG_COLUMNS " FROM dags WHERE id = ?1 ORDER BY seq DESC LIMIT 1", &rows);
      !s.ok()) {
    return Damaged(s);
  }
  rows->Bind(1, id);
  return LoadDagRows(visit, salvage, report, *rows, nullptr);
}

}  // namespace titan::broker
