// The worker's side of auto-scaling ("Inception") and of `deploy Worker.jar PORT`: starting a child
// worker on WORKER_SPAWN (with the tags and address port it asks for), noticing its exit, and killing
// the ones still running once the drain has given them their own grace.
// Methods of Worker (worker_node.h); called from its loop only.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "worker/worker_node.h"

namespace titan::worker {

void Worker::SpawnChild(const wire::Message& msg) {
  ChildRequest child{std::string(msg.Bytes("name")),
                     static_cast<int>(std::clamp<int64_t>(msg.Int("slots"), 1, 100000))};
  if (const wire::Datum* tags = msg.Find("tags"); tags && std::holds_alternative<wire::List>(tags->v)) {
    for (const wire::Datum& tag : std::get<wire::List>(tags->v)) child.tags.emplace_back(tag.bytes());
  }
  child.port = static_cast<int>(std::clamp<int64_t>(msg.Int("port"), 0, 65535));
  child.manual = msg.Bool("manual");
  const std::string& name = child.name;
  if (draining_) {
    spdlog::warn("worker {}: not starting child worker {}: this worker is draining", name_, name);
    return;
  }
  auto pid = children_.Spawn(child);
  if (!pid.ok()) {
    spdlog::error("worker {}: cannot start child worker {}: {}", name_, name, pid.message());
    return;
  }
  if (auto st = registry_.Add(pid.value()); !st.ok()) spdlog::warn("worker: pid registry: {}", st.message());
  spdlog::info("worker {}: started {} worker {} (pid {}, {} slots{}) because {}; its log: {}", name_,
               child.manual ? "operator-requested" : "child", name, pid.value(), child.slots,
               child.port ? ", address port " + std::to_string(child.port) : "", msg.Bytes("reason"),
               children_.LogOf(name));
}

void Worker::ChildExited(const ChildWorkers::Exit& exit) {
  (void)registry_.Remove(exit.pid);
  if (exit.status.success()) {
    spdlog::info("worker {}: child worker {} (pid {}) exited", name_, exit.name, exit.pid);
  } else {
    spdlog::warn("worker {}: child worker {} (pid {}) ended: {}; see {}", name_, exit.name, exit.pid,
                 exit.status.Render(), children_.LogOf(exit.name));
  }
}

void Worker::TendChildren(int64_t now) {
  for (const auto& exit : children_.Reap()) ChildExited(exit);
  if (draining_ && !children_.empty() && now >= children_kill_at_) {
    spdlog::warn("worker {}: {} child workers still running after {} ms; killing them (SIGKILL)", name_,
                 children_.size(), o_.drain_grace_ms + o_.kill_grace_ms + kChildExitMarginMs);
    for (const auto& exit : children_.KillAll()) ChildExited(exit);
  }
}

}  // namespace titan::worker
