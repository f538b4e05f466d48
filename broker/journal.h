// Journal: the broker's durable state, in SQLite (a file in the data directory: WAL, synchronous=FULL;
// the default) or in PostgreSQL (a server named by a postgresql:// URI: `titan broker --journal`). Both
// go through base/sql_db.h, so the journal's rows and what they mean are written once: only the schema
// (and its upgrades) is each backend's own. Every accepted job, each of its transitions, the files jobs
// run and the audit log's rows are written inside the transaction of the current loop turn; Commit makes
// the turn durable before any reply or dispatch leaves the broker.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/sql_db.h"
#include "broker/job.h"
#include "security/audit_log.h"
#include "security/secret_box.h"

namespace titan::pg {
class Db;
}  // namespace titan::pg

namespace titan::broker {

// A jobs row whose state is not final, as an SQL condition: the partial index of live jobs and the
// queries that use it say it in exactly this text (SQLite uses such an index only for a WHERE that
// matches it). The state column holds the name as a blob (older files: as text): compared as text.
inline constexpr const char* kLiveJobSql =
    "CAST(state AS TEXT) IN ('PENDING', 'BLOCKED', 'SCHEDULED', 'QUEUED', 'RUNNING', 'WAITING_APPROVAL')";

// The columns Journal::ReadJob and ReadDag read, in their order.
#define TITAN_JOB_COLUMNS                                                                                \
  "id, seq, spec, file_hash, dag, state, attempt, worker, exit_code, reason, submitted_ms, started_ms, " \
  "finished_ms, lost, exit_code IS NULL, decided_by, run, first_attempt, "                               \
  "seq IN (SELECT seq FROM truncated_logs), "                                                            \
  "coalesce((SELECT usage FROM job_usage WHERE job_usage.seq = jobs.seq), ''), epoch"
#define TITAN_DAG_COLUMNS "id, name, agent_run_id, submitted_ms, job_ids, job_runs, seq, token"

// A job's secret_env is sealed (security::SecretBox) before it is written: its spec row holds
// "sealed_secret_env" in place of "secret_env", and a schedule whose jobs have secrets is sealed whole.
// The key is `secrets.key` in the broker's data directory (beside the SQLite file), made with the first
// secret; without it those rows cannot be read back. A PostgreSQL journal keeps its key there too, never
// in the database: every broker that opens that journal needs a copy of the file.
class Journal {
 public:
  // The SQLite journal at `path` (created when missing). `fsync_commits`: each Commit is on disk when it
  // returns (synchronous=FULL); false: in the OS, on disk at WAL checkpoints (synchronous=NORMAL).
  Status Open(const std::string& path, bool fsync_commits = true);
  // The journal in the PostgreSQL database `uri` names (its tables created or upgraded); `dir` is the
  // broker's data directory (secrets.key, and what dir() answers).
  Status OpenPostgres(const std::string& uri, const std::string& dir);

  // Opens the turn's transaction if none is open. Writes below require an open transaction.
  Status BeginIfNeeded();
  // Commits the open transaction (one fsync); no-op when none is open. A failed commit is rolled back.
  // Errors of this and of the writes below carry their errno: IsOutOfSpace(error) when the disk is full.
  Status Commit();
  // Ends the open transaction (if any) without its changes: after a write of the turn failed.
  void Rollback();
  bool dirty() const { return in_txn_; }
  // Whether the journal can make a write durable again (the disk had been full): one small committed
  // transaction of its own (sqlite::Db::ProbeWrite). Call between turns, with no transaction open.
  Status ProbeSpace();
  // The folder the journal (SQLite) and the broker's other files live in, and the journal file (or the
  // PostgreSQL URI, without its password).
  std::string dir() const { return dir_; }
  const std::string& path() const { return path_; }
  bool postgres() const { return db_ && db_->dialect() == sql::Dialect::kPostgres; }
  // Tests of a full disk without filling one (SQLite only): `full`, the file may not grow past its size
  // now, and a write that would fails as on a full disk (SQLITE_FULL, IsOutOfSpace); !full lifts that.
  Status SetFullForTesting(bool full);

  Status InsertFile(const std::string& hash, const std::string& name, const std::string& content);
  // Each also records, once, that the job's log is incomplete (job.log_truncated), and what its last
  // finished run used (job.usage, a row of job_usage).
  Status InsertJob(const Job& job);
  Status UpdateJob(const Job& job);
  Status InsertDag(const Dag& dag);
  // A schedule: its definition (a msgpack blob the core owns) and when it last fired.
  // `secret`: the definition holds a job's secret_env, so it is sealed.
  Status PutSchedule(const std::string& name, const std::string& definition, int64_t last_ms,
                     bool secret = false);
  Status DeleteSchedule(const std::string& name);
  // A volume's registry row: its VolumeInfo as msgpack (the core owns the encoding).
  Status PutVolume(const std::string& name, const std::string& info);
  Status DeleteVolume(const std::string& name);
  // The audit log's table (security/audit_log.h), in this file: appends require an open transaction.
  security::AuditLog& audit() { return audit_; }

  struct Visitor {
    std::function<void(std::string hash, std::string content)> file;
    std::function<void(Job job)> job;  // in submission order, its spec applied (ApplySpec)
    std::function<void(Dag dag)> dag;  // in submission order
    // A schedule's definition is the core's to read: an error means the row is corrupt.
    std::function<Status(std::string name, std::string definition, int64_t last_ms)> schedule;
    // A volume row (unset: volumes are not read); an error means the row is corrupt.
    std::function<Status(std::string name, std::string info)> volume;
  };
  struct LoadReport {
    int64_t last_job_seq = 0;          // the highest job seq in the file, skipped rows included
    std::vector<std::string> skipped;  // with salvage: one sentence per row skipped
    bool partial = false;              // `recent` left finished jobs in the file only
  };
  // Reads the journal back, jobs and DAGs in submission order. A row that cannot be read (a spec or
  // DAG job list that does not decode, an unknown state, a field of the wrong type, a schedule the
  // visitor refuses) is corruption: without `salvage` Load stops at the first one, with an error that
  // names the row (table, seq, id), what is wrong and --salvage; with `salvage` the row is skipped and
  // logged as an error. A damaged file (SQLite finds it is not a database, or malformed) is an error
  // either way, naming the file and what to do. Never throws.
  // `recent` > 0 reads back only the submissions of the newest `recent` jobs and those of jobs not yet
  // final (each submission whole, with its DAG): the rest are finished jobs that stay in the file
  // (FindJob, ListJobs read them). 0 reads everything.
  Status Load(const Visitor& visit, bool salvage = false, LoadReport* report = nullptr, int64_t recent = 0);

  // Reads of jobs that left the broker's memory (retention), each an indexed lookup. nullopt: the
  // journal has no such row; an error: SQLite failed or the row is corrupt (named).
  // The latest run of `id` (run 0) or its run `run`.
  Result<std::optional<Job>> FindJob(const std::string& id, int64_t run = 0);
  Result<std::optional<Dag>> FindDag(const std::string& id);
  // The DAG a submission with idempotency token `token` made (Dag::token), while its row is in the
  // journal (journal retention deletes it with the submission's jobs).
  Result<std::optional<Dag>> FindDagByToken(const std::string& token);
  // Jobs with seq < `before`, newest first (`state`: only in that state, empty: any), handed to `visit`
  // until it returns false or `max_rows` rows were read; a row that cannot be read is skipped (logged).
  Status ListJobs(int64_t before, const std::string& state, int64_t max_rows,
                  const std::function<bool(Job)>& visit);

  // A jobs row as retention scans it: no spec decoded.
  struct JobRow {
    int64_t seq = 0;
    std::string id;
    int64_t run = 0;
    std::string dag;
    std::string state;
    int64_t submitted_ms = 0, finished_ms = 0;
  };
  // Up to `limit` rows with seq > `after`, in seq order.
  Status ScanJobs(int64_t after, int64_t limit, std::vector<JobRow>* out);
  // Deletes the jobs rows with seq first..last / a DAG's row (require an open transaction).
  Status DeleteJobs(int64_t first, int64_t last);
  Status DeleteDag(const std::string& id);
  // The number of jobs rows in each state (JobState order), for the counters STATS reports.
  Status CountStates(int64_t (&counts)[kStateCount]);

  // The lease of a PostgreSQL journal (journal_pg.cc; errors on SQLite): one row, its epoch bumped by
  // each broker that takes it, its expiry set from the database's clock. Call outside any transaction.
  struct Lease {
    bool acquired = false;      // AcquireLease: this broker holds it now, with `epoch`
    int64_t epoch = 0;          // the epoch that holds it
    std::string holder;         // who holds it ("host:pid")
    std::string address;        // the holder's client address as it advertises it (host:port); "" unknown
    int64_t expires_in_ms = 0;  // from the database's now(); 0 once expired
  };
  // Takes the lease for `holder` when it has expired (or was never taken), for `ttl_ms`; otherwise
  // says who holds it. A taken lease fences the journal: from now on every transaction begins by
  // checking (SELECT ... FOR SHARE) that the lease still has this epoch, so a commit after another
  // broker took over fails, and its turn is recorded in lease_turns (the epoch's turns, last at).
  // `address` (host:port) is recorded with it, so standbys can name the leader to clients (NOT_LEADER).
  Status AcquireLease(const std::string& holder, int64_t ttl_ms, Lease* out, const std::string& address = "");
  // Extends the lease of `epoch` to the database's now() + ttl_ms; *held false: another broker took it.
  Status RenewLease(int64_t epoch, int64_t ttl_ms, bool* held);
  // The epoch of the lease this journal took (AcquireLease): what the broker assigns runs under
  // (Job::epoch). 0 on SQLite, or before the lease is taken: no epochs.
  int64_t lease_epoch() const { return lease_epoch_; }
  // Tests of epochs on an SQLite journal: as if this journal's lease had been taken with `epoch`.
  void SetLeaseEpochForTesting(int64_t epoch) { lease_epoch_ = epoch; }
  // The PostgreSQL connection (null on SQLite), for the loop to drive pipelined commits: with them on
  // (pg::Db::SetPipelining), Commit only sends the turn's transaction, and an Ok says nothing of its
  // outcome, which the loop reads from the connection (base/pg_db.h, broker/held_turns.h).
  pg::Db* postgres_connection();

 private:
  // Brings the file to the current schema version (creating it, or upgrading version 1 in place).
  Status Migrate();
  // The same for a PostgreSQL database (journal_pg.cc): schema_version says which version it holds.
  Status MigratePostgres();
  // The statements of the turn's writes (journal.cc) and of journal_find.cc, then the audit log's.
  Status PrepareAll();
  Status QueryInt(const char* sql, int64_t* out);  // the first column of the first row
  Status PrepareFinds();                           // the statements of journal_find.cc
  Status MarkLogTruncated(const Job& job);         // when job.log_truncated: its row in truncated_logs
  Status PutUsage(const Job& job);                 // when job.usage: its row in job_usage
  Status LoadFiles(const Visitor& visit);
  Status LoadJobs(const Visitor& visit, bool salvage, LoadReport* report);
  Status LoadDags(const Visitor& visit, bool salvage, LoadReport* report);
  Status LoadSchedules(const Visitor& visit, bool salvage, LoadReport* report);
  Status LoadVolumes(const Visitor& visit, bool salvage, LoadReport* report);
  // A row that cannot be read: an error, or (salvage) logged, reported and skipped (Ok).
  static Status Corrupt(const std::string& row, const std::string& problem, bool salvage, LoadReport* report);
  // `s` (an SQLite failure) with what a damaged file means for the operator, when it is one.
  Status Damaged(Status s);
  // The secrets key, read (or, with `create`, made) on first use; an error names the key file.
  Result<const security::SecretBox*> Box(bool create);
  Status ReadSpec(std::string_view blob, Job* j);
  Status UnsealSecretEnv(const wire::Map& spec, Job* j);
  Result<Job> ReadJob(sql::Statement& row);
  // The first and last seq of the submission (the run of equal `dag` around it) that row `seq` is in.
  Status SubmissionOf(int64_t seq, int64_t* first, int64_t* last);
  // Seq ranges Load(recent) reads: submissions of live jobs older than the newest `recent` jobs, then
  // everything from the submission of the `recent`-th newest job on.
  Status RecentRanges(int64_t recent, std::vector<std::pair<int64_t, int64_t>>* ranges);
  Status LoadJobRange(const Visitor& visit, bool salvage, LoadReport* report, int64_t first, int64_t last,
                      std::set<std::string>* dags);
  // Visits each row of `rows` (TITAN_JOB_COLUMNS / TITAN_DAG_COLUMNS); `dags` collects the jobs' DAG
  // ids, `only` limits the DAGs visited to those.
  Status LoadJobRows(const Visitor& visit, bool salvage, LoadReport* report, sql::Statement& rows,
                     std::set<std::string>* dags);
  Status LoadDagRows(const Visitor& visit, bool salvage, LoadReport* report, sql::Statement& rows,
                     const std::set<std::string>* only);
  // The DAG row of the submission that job row `seq` is in, visited (an old live submission).
  Status LoadDagById(const Visitor& visit, bool salvage, LoadReport* report, int64_t seq);
  // The seq of the DAG row of job row `job_seq`'s submission (0 when there is none: every DAG row).
  Status DagSeqOfJob(int64_t job_seq, int64_t* dag_seq);
  static Result<Dag> ReadDag(sql::Statement& row);

  std::string path_;
  std::string dir_;
  std::string secrets_path_;  // secrets.key in dir_
  std::optional<security::SecretBox> box_;

  std::unique_ptr<sql::Db> db_;
  std::unique_ptr<sql::Statement> insert_file_, insert_job_, update_job_, insert_dag_, put_schedule_,
      delete_schedule_, find_latest_, find_run_, find_dag_, find_dag_by_token_, scan_jobs_, delete_job_,
      delete_dag_, mark_truncated_, delete_truncated_, put_usage_, delete_usage_, put_volume_, delete_volume_;
  security::AuditLog audit_;  // after db_: its statements are finalized before the connection closes
  bool in_txn_ = false;
  int64_t lease_epoch_ = 0;
};

}  // namespace titan::broker
