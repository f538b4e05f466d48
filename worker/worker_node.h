// Worker: the worker's event loop and all its state — the broker link, running jobs (run-once and
// services), files being fetched, child workers — owned by one thread in one zmq::poll loop.
// Private to worker/ (worker.h is the public entry point); its methods are split by topic:
// worker_node.cc (loop, broker messages, run-once jobs), worker_services.cc, worker_children.cc.
#pragma once

#include <sys/types.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "artifacts/blob_store.h"
#include "worker/broker_link.h"
#include "worker/child_workers.h"
#include "worker/file_fetch.h"
#include "worker/pid_registry.h"
#include "worker/running_job.h"
#include "worker/worker.h"

namespace titan::worker {

// Beyond a child worker's own grace (drain + kill), before its parent SIGKILLs it.
inline constexpr int64_t kChildExitMarginMs = 1000;

class Worker {
 public:
  Worker(const WorkerOptions& o, exec::PidRegistry registry, artifacts::BlobStore cache);

  // Serves until drained (see RunWorker); returns the process exit code.
  int Run();

 private:
  wire::Message ReadyMessage() const;
  void Handle(const wire::Message& msg, int64_t now);
  void Start(const wire::Message& assign, int64_t now);
  void Launch(const wire::Message& assign, int64_t now);
  void FileFetched(const FileFetch::Ended& ended, int64_t now);
  void SendFetches();
  size_t Busy() const;
  void Report(wire::Datum result);
  void PumpOutput(RunningJob& job);
  void SendLogs(RunningJob& job);
  void Reap(int64_t now);
  void BeginDrain(const std::string& why, int64_t now);
  void ReapOrphans();
  bool Owns(pid_t pid) const;  // a process one of our handles will reap (job, probe, child worker)
  void SendControl(wire::Message msg);
  void FlushUnsent();
  int64_t NextDue(int64_t now, int64_t link_due) const;
  void AddPollItems(std::vector<zmq::pollitem_t>* items, bool can_send) const;

  // Services (worker_services.cc).
  // Before a service's first start: false (and the job reported) when its port is taken (failed), or
  // when this worker is draining (handed back). True for run-once jobs.
  bool ServiceMayStart(const wire::Map& spec, const std::string& id, int64_t attempt);
  void ServiceStarted(RunningJob& job, int64_t now);
  void TendService(RunningJob& job, int64_t now);
  // The run ended and its output went out: true when it restarts later (it stays in jobs_), false
  // when it is over (given up or ended for good; the caller reports it).
  bool ServiceExited(RunningJob& job, int64_t now);
  void RestartService(RunningJob& job, int64_t now);
  void EndService(RunningJob& job, const std::string& reason, int64_t now);
  void HandBackServices(int64_t now);
  void SendServiceStatus(const RunningJob& job);

  // Child workers (worker_children.cc).
  void SpawnChild(const wire::Message& msg);
  void ChildExited(const ChildWorkers::Exit& exit);
  void TendChildren(int64_t now);

  WorkerOptions o_;
  exec::PidRegistry registry_;
  artifacts::BlobStore cache_;  // job files by content hash: titan_workspace/../cache
  FileFetch fetch_;
  std::map<std::string, std::vector<wire::Message>> awaiting_file_;  // sha256 -> assignments waiting for it
  std::vector<std::string> caps_;
  zmq::context_t ctx_{1};
  BrokerLink link_;
  std::string name_;
  JobContext ctx_job_;
  std::map<std::string, std::unique_ptr<RunningJob>> jobs_;         // by id; services too (one slot each)
  std::map<std::pair<std::string, int64_t>, wire::Datum> unacked_;  // results until JOB_ACK
  std::map<std::string, wire::Message>
      deferred_;                      // assignments waiting for an earlier run of the same job to end
  std::deque<wire::Message> unsent_;  // control messages the full socket refused, in order; retried each turn
  ChildWorkers children_;             // workers started here on WORKER_SPAWN
  int64_t children_kill_at_ = 0;      // draining: child workers still running then get SIGKILL
  bool announced_ = false;
  bool draining_ = false;
  int64_t drain_deadline_ = 0;
};

}  // namespace titan::worker
