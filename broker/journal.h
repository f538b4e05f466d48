// Journal: the broker's durable state in SQLite (WAL, synchronous=FULL). Every accepted job, each
// of its transitions, and the files jobs run are written inside the transaction of the current loop
// turn; Commit makes the turn durable before any reply or dispatch leaves the broker.
#pragma once

#include <functional>
#include <string>

#include "base/sqlite_db.h"
#include "broker/job.h"

namespace titan::broker {

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
  Status PutSchedule(const std::string& name, const std::string& definition, int64_t last_ms);
  Status DeleteSchedule(const std::string& name);

  struct Visitor {
    std::function<void(std::string hash, std::string content)> file;
    std::function<void(Job job)> job;  // in submission order
    std::function<void(Dag dag)> dag;  // in submission order
    std::function<void(std::string name, std::string definition, int64_t last_ms)> schedule;
  };
  Status Load(const Visitor& visit);

 private:
  // Brings the file to the current schema version (creating it, or upgrading version 1 in place).
  Status Migrate();

  sqlite::Db db_;
  sqlite::Statement begin_, commit_, insert_file_, insert_job_, update_job_, insert_dag_, put_schedule_,
      delete_schedule_;
  bool in_txn_ = false;
};

}  // namespace titan::broker
