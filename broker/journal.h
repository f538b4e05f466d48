// Journal: the broker's durable state in SQLite (WAL, synchronous=FULL). Every accepted job, each
// of its transitions, the files jobs run and the audit log's rows are written inside the transaction of
// the current loop turn; Commit makes the turn durable before any reply or dispatch leaves the broker.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/sqlite_db.h"
#include "broker/job.h"
#include "security/audit_log.h"
#include "security/secret_box.h"

namespace titan::broker {

// A job's secret_env is sealed (security::SecretBox) before it is written: its spec row holds
// "sealed_secret_env" in place of "secret_env", and a schedule whose jobs have secrets is sealed whole.
// The key is `secrets.key` beside the journal file, made with the first secret; without it those rows
// cannot be read back.
class Journal {
 public:
  Status Open(const std::string& path);

  // Opens the turn's transaction if none is open. Writes below require an open transaction.
  Status BeginIfNeeded();
  // Commits the open transaction (one fsync); no-op when none is open.
  Status Commit();
  bool dirty() const { return in_txn_; }

  Status InsertFile(const std::string& hash, const std::string& name, const std::string& content);
  Status InsertJob(const Job& job);
  Status UpdateJob(const Job& job);
  Status InsertDag(const Dag& dag);
  // A schedule: its definition (a msgpack blob the core owns) and when it last fired.
  // `secret`: the definition holds a job's secret_env, so it is sealed.
  Status PutSchedule(const std::string& name, const std::string& definition, int64_t last_ms,
                     bool secret = false);
  Status DeleteSchedule(const std::string& name);
  // The audit log's table (security/audit_log.h), in this file: appends require an open transaction.
  security::AuditLog& audit() { return audit_; }

  struct Visitor {
    std::function<void(std::string hash, std::string content)> file;
    std::function<void(Job job)> job;  // in submission order, its spec applied (ApplySpec)
    std::function<void(Dag dag)> dag;  // in submission order
    // A schedule's definition is the core's to read: an error means the row is corrupt.
    std::function<Status(std::string name, std::string definition, int64_t last_ms)> schedule;
  };
  struct LoadReport {
    int64_t last_job_seq = 0;          // the highest job seq in the file, skipped rows included
    std::vector<std::string> skipped;  // with salvage: one sentence per row skipped
  };
  // Reads the journal back, jobs and DAGs in submission order. A row that cannot be read (a spec or
  // DAG job list that does not decode, an unknown state, a field of the wrong type, a schedule the
  // visitor refuses) is corruption: without `salvage` Load stops at the first one, with an error that
  // names the row (table, seq, id), what is wrong and --salvage; with `salvage` the row is skipped and
  // logged as an error. A damaged file (SQLite finds it is not a database, or malformed) is an error
  // either way, naming the file and what to do. Never throws.
  Status Load(const Visitor& visit, bool salvage = false, LoadReport* report = nullptr);

 private:
  // Brings the file to the current schema version (creating it, or upgrading version 1 in place).
  Status Migrate();
  Status QueryInt(const char* sql, int64_t* out);  // the first column of the first row
  Status LoadFiles(const Visitor& visit);
  Status LoadJobs(const Visitor& visit, bool salvage, LoadReport* report);
  Status LoadDags(const Visitor& visit, bool salvage, LoadReport* report);
  Status LoadSchedules(const Visitor& visit, bool salvage, LoadReport* report);
  // A row that cannot be read: an error, or (salvage) logged, reported and skipped (Ok).
  static Status Corrupt(const std::string& row, const std::string& problem, bool salvage, LoadReport* report);
  // `s` (an SQLite failure) with what a damaged file means for the operator, when it is one.
  Status Damaged(Status s);
  // The secrets key, read (or, with `create`, made) on first use; an error names the key file.
  Result<const security::SecretBox*> Box(bool create);
  Status ReadSpec(std::string_view blob, Job* j);
  Status UnsealSecretEnv(const wire::Map& spec, Job* j);
  Result<Job> ReadJob(sqlite::Statement& row);

  std::string path_;
  std::string secrets_path_;  // secrets.key beside path_
  std::optional<security::SecretBox> box_;

  sqlite::Db db_;
  sqlite::Statement begin_, commit_, insert_file_, insert_job_, update_job_, insert_dag_, put_schedule_,
      delete_schedule_;
  security::AuditLog audit_;  // after db_: its statements are finalized before the connection closes
  bool in_txn_ = false;
};

}  // namespace titan::broker
