// Worker: the worker process's loop. One zmq::poll on one thread over the broker link, every job's
// output pipes and exit descriptors, probes, child workers and a signalfd. What arrives goes to the
// WorkerCore (the decisions); the core's commands are carried out here (sends, registration) and by
// the WorkerEdge (processes, files). Private to worker/ (worker.h is the public entry point).
#pragma once

#include <deque>
#include <vector>
#include <zmq.hpp>

#include "artifacts/blob_store.h"
#include "worker/broker_link.h"
#include "worker/pid_registry.h"
#include "worker/worker.h"
#include "worker/worker_core.h"
#include "worker/worker_edge.h"

namespace titan::worker {

class Worker {
 public:
  // `cgroups`: where its jobs get their cgroups (exec::OpenWorkerCgroups); nullopt: none.
  Worker(const WorkerOptions& o, exec::PidRegistry registry, artifacts::BlobStore cache,
         std::optional<security::Credential> credential,
         std::optional<exec::WorkerCgroups> cgroups = std::nullopt);

  // Hands the worker its reaper (worker_reaper.h), to be owned (and not reaped as an orphan) by the edge.
  // The reaper (worker_reaper.h) and our end of the socket each run's pidfd is handed to it on.
  void AdoptReaper(exec::ChildProcess reaper, exec::UniqueFd runs) {
    edge_.AdoptReaper(std::move(reaper), std::move(runs));
  }
  const std::string& name() const { return name_; }

  // Serves until drained (see RunWorker); returns the process exit code.
  int Run();

 private:
  // Carries out the core's commands, and those their answers lead to, until none is left.
  void Execute(Instant now);
  void Execute(const Command& c, Instant now);
  void ExecuteOnEdge(const Command& c, int64_t now);
  // A broker message: the replies of file fetches go to the edge, everything else to the core.
  void Route(const Inbound& in, Instant now);
  void Feed(const Observed& seen, Instant now);
  void SendControl(wire::Message msg);
  void FlushUnsent();
  int64_t NextDue(Instant now, int64_t link_due) const;  // monotonic ms

  std::string name_;
  bool noop_;  // --executor noop: no processes, so no warm interpreter either
  zmq::context_t ctx_{1};
  WorkerCore core_;
  WorkerEdge edge_;
  BrokerLink link_;
  std::deque<wire::Message> unsent_;  // control messages the full socket refused, in order; retried each turn
};

}  // namespace titan::worker
