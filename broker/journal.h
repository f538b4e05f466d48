// Journal: the broker's durable state in SQLite (WAL, synchronous=FULL). Every accepted job, each
// of its transitions, and the files jobs run are written inside the transaction of the current loop
// turn; Commit makes the turn durable before any reply or dispatch leaves the broker.
#pragma once

#include <functional>
#include <string>

#include "job.h"
#include "sqlite_db.h"

namespace titan::broker {

using store::Status;

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

  // Calls `file` for each stored file, then `job` for each job in submission order.
  Status Load(const std::function<void(std::string hash, std::string content)>& file,
              const std::function<void(Job job)>& job);

 private:
  store::Db db_;
  store::Statement begin_, commit_, insert_file_, insert_job_, update_job_;
  bool in_txn_ = false;
};

}  // namespace titan::broker
