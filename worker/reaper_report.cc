// The reaper's one registration with the broker, to hand over a dead worker's last results.
#include "worker/reaper_report.h"

#include <unistd.h>

#include <algorithm>
#include <set>
#include <zmq.hpp>

#include "base/clock.h"
#include "worker/broker_link.h"
#include "worker/machine_probe.h"

namespace titan::worker {

Status ReportResults(const ReportTarget& target, std::vector<wire::JobResult> results,
                     std::chrono::milliseconds deadline) {
  if (results.empty()) return Status::Ok();
  std::set<std::pair<std::string, int64_t>> pending;
  for (const wire::JobResult& r : results) pending.insert({r.id, r.attempt});
  zmq::context_t ctx(1);
  BrokerLink link(
      ctx, target.host, target.port, target.heartbeat_ms,
      [&] {
        wire::WorkerReadyMsg ready{.name = target.worker,
                                   .host = HostName(),
                                   .pid = getpid(),
                                   .slots = 1,
                                   .capabilities = {},
                                   .running = {},
                                   .finished = {}};
        for (const wire::JobResult& r : results) {
          if (pending.contains({r.id, r.attempt})) ready.finished.push_back(r);
        }
        ready.session = 1;
        ready.draining = true;
        return ready;
      },
      target.credential);
  const int64_t end = MonoMs() + deadline.count();
  bool welcomed = false;
  while (!(welcomed && pending.empty())) {
    Instant now = Now();
    if (now.mono_ms >= end) break;
    const int64_t due = link.Tick(now, [] { return wire::HeartbeatMsg{.busy = 0, .draining = true}; });
    zmq::pollitem_t items[2];
    const size_t n = link.AddPollItems(items, false);
    const int64_t wait = std::clamp<int64_t>(std::min(due, end) - now.mono_ms, 0, 100);
    try {
      zmq::poll(items, n, std::chrono::milliseconds(wait));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return Status::Error(std::string("cannot reach the broker: ") + e.what());
    }
    for (const Inbound& in : link.Receive(Now())) {
      if (in.msg.type == wire::MsgType::kWorkerWelcome) welcomed = true;
      if (in.msg.type != wire::MsgType::kJobAck) continue;
      const Result<wire::JobAckMsg> ack = wire::JobAckMsg::From(in.msg);
      if (!ack.ok()) continue;
      pending.erase({ack->id, ack->attempt});
      if (ack->more) {
        for (const wire::JobRef& more : *ack->more) pending.erase({more.id, more.attempt});
      }
    }
  }
  if (pending.empty() && welcomed) return Status::Ok();
  return Status::Error("the broker at " + target.host + ":" + std::to_string(target.port) + " acknowledged " +
                       std::to_string(results.size() - pending.size()) + " of " +
                       std::to_string(results.size()) + " results within " +
                       std::to_string(deadline.count()) + " ms");
}

}  // namespace titan::worker
