// Auto-scaling ("Inception"): the pure decision of when a worker should start a child worker on its
// machine and when an idle child should be retired. No sockets, no clock: the core passes a snapshot
// and the time, and carries out the actions. Tested with tables in autoscale_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace titan::broker {

struct ScalePolicy {
  int max_children = 0;              // child workers per machine (parent worker); 0: auto-scaling off
  int min_children = 0;              // idle children kept rather than retired
  int64_t wait_ms = 2000;            // a job queued this long with no free slot asks for a child
  int64_t cooldown_ms = 30000;       // a child idle this long is retired (beyond min_children)
  int64_t spawn_timeout_ms = 30000;  // a requested child that has not joined by then is given up
};

struct ScaleWorker {
  std::string name, parent;  // parent: empty for workers started by hand
  std::vector<std::string> capabilities;
  int slots = 0, busy = 0;
  bool draining = false;
  int64_t idle_since = 0;  // 0: busy
  bool manual = false;     // started by an operator (`deploy Worker.jar PORT`): never retired, and not
                           // counted among its parent's auto-scaled children
};

struct ScaleWait {
  std::string requirement;  // of the longest-waiting queued job with this requirement
  int64_t queued_at = 0;
};

struct ScalePending {
  std::string parent, child;
  int64_t requested_at = 0;
};

struct ScaleAction {
  enum Kind { kSpawn, kRetire } kind;
  std::string parent;  // kSpawn: who starts it; kRetire: whose child it is
  std::string worker;  // the child
  int slots = 0;       // kSpawn
  std::string reason;
};

// At most one spawn and one retirement per call. `pending` are spawns asked for and not yet joined
// (callers drop those older than spawn_timeout_ms). `next_child` numbers new children's names.
std::vector<ScaleAction> DecideScaling(const ScalePolicy& policy, const std::vector<ScaleWorker>& workers,
                                       const std::vector<ScaleWait>& waits,
                                       const std::vector<ScalePending>& pending, int64_t now,
                                       int64_t next_child);

}  // namespace titan::broker
