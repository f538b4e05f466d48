// `titan tail`: every event the broker publishes (job states, log lines, workers), one line each,
// until Ctrl-C.
#include <time.h>

#include <cstdio>
#include <iostream>
#include <string_view>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "base/signal_watch.h"
#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"
#include "schemas/cpp/transport.h"

namespace titan::cli {
namespace {

struct TailArgs {
  bool jobs = false, logs = false, workers = false, heartbeats = false;
};

// "13:02:03.456" in local time.
std::string ClockTime(int64_t epoch_ms) {
  const time_t t = static_cast<time_t>(epoch_ms / 1000);
  tm local{};
  localtime_r(&t, &local);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%H:%M:%S", &local);
  std::snprintf(buf + n, sizeof buf - n, ".%03d", static_cast<int>(epoch_ms % 1000));
  return buf;
}

std::string StrList(const wire::Datum* d) {
  std::string out;
  if (const auto* list = d ? std::get_if<wire::List>(&d->v) : nullptr) {
    for (const wire::Datum& item : *list) out += (out.empty() ? "" : ", ") + std::string(item.bytes());
  }
  return out;
}

// The lines printed for one event (none for a heartbeat unless asked for).
std::string RenderEvent(const std::string& topic, const wire::Message& m, bool heartbeats) {
  const std::string prefix = ClockTime(m.Has("ts_ms") ? m.Int("ts_ms") : WallMs()) + "  " + topic + "  ";
  if (m.type == wire::MsgType::kEventJob) {
    std::string line =
        prefix + std::string(m.Bytes("state")) + "  attempt " + std::to_string(m.Int("attempt"));
    if (m.Has("worker")) line += " on " + std::string(m.Bytes("worker"));
    if (m.Has("exit_code")) line += ", exit " + std::to_string(m.Int("exit_code"));
    if (m.Has("reason")) line += " (" + std::string(m.Bytes("reason")) + ")";
    return line + '\n';
  }
  if (m.type == wire::MsgType::kEventLog) {
    const std::string tag = m.Bytes("stream") == "stderr" ? "[stderr] " : "";
    std::string out;
    std::string_view bytes = m.blobs.empty() ? std::string_view() : std::string_view(m.blobs[0]);
    while (!bytes.empty()) {
      const size_t nl = bytes.find('\n');
      out += prefix + tag + std::string(bytes.substr(0, nl)) + '\n';
      bytes.remove_prefix(nl == std::string_view::npos ? bytes.size() : nl + 1);
    }
    return out;
  }
  if (m.type == wire::MsgType::kEventWorker) {
    const std::string_view event = m.Bytes("event");
    if (event == "heartbeat" && !heartbeats) return "";
    int64_t busy = 0, slots = 0;
    std::string caps;
    for (const auto& [k, v] : std::get<wire::Map>(m.Find("worker")->v)) {  // a WorkerInfo, checked by Decode
      if (k == "busy") busy = std::get<int64_t>(v.v);
      if (k == "slots") slots = std::get<int64_t>(v.v);
      if (k == "capabilities") caps = StrList(&v);
    }
    return prefix + std::string(event) + "  load " + std::to_string(busy) + "/" + std::to_string(slots) +
           " [" + caps + "]\n";
  }
  if (m.type == wire::MsgType::kEventScale) {  // an auto-scaling decision; the topic names the child worker
    const auto& e = std::get<wire::Map>(m.Find("event")->v);
    return prefix + "auto-scaling " + std::string(wire::FindField(e, "action")->bytes()) + " on " +
           std::string(wire::FindField(e, "parent")->bytes()) + ": " +
           std::string(wire::FindField(e, "reason")->bytes()) + "\n";
  }
  return "";
}

int Tail(const Target& target, TailArgs args) {
  SignalWatch signals;  // before any ZeroMQ thread exists
  if (!args.jobs && !args.logs && !args.workers) args.jobs = args.logs = args.workers = true;
  BrokerClient broker(target);
  std::string pub;
  if (const int rc = broker.PubEndpoint(&pub); rc != kExitOk) return rc;
  zmq::context_t ctx{1};
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  wire::ConfigureSocket(sub);
  sub.set(zmq::sockopt::linger, 0);
  if (args.jobs) sub.set(zmq::sockopt::subscribe, "job.");
  if (args.logs) sub.set(zmq::sockopt::subscribe, "log.");
  if (args.workers) sub.set(zmq::sockopt::subscribe, "worker.");
  if (args.workers) sub.set(zmq::sockopt::subscribe, "scale.");
  sub.connect(pub);
  std::cerr << "titan: tailing " << pub << " (Ctrl-C to stop)\n";
  for (;;) {
    zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0}, signals.PollItem()};
    zmq::poll(items, 2, std::chrono::milliseconds(-1));
    if (items[1].revents & ZMQ_POLLIN) return kExitOk;
    zmq::multipart_t frames;
    if (!(items[0].revents & ZMQ_POLLIN) || !frames.recv(sub, ZMQ_DONTWAIT) || frames.size() < 2) continue;
    std::vector<std::string_view> payload;
    for (size_t i = 1; i < frames.size(); ++i) payload.push_back(frames[i].to_string_view());
    const wire::Decoded d = wire::Decode(std::span<const std::string_view>(payload));
    if (d.status != wire::DecodeStatus::kOk) {
      std::cerr << "titan: undecodable event on " << frames[0].to_string() << ": " << d.reason << '\n';
      continue;
    }
    std::cout << RenderEvent(frames[0].to_string(), d.msg, args.heartbeats) << std::flush;
  }
}

}  // namespace

void AddTailCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto a = std::make_shared<TailArgs>();
  CLI::App* cmd = app.add_subcommand("tail", "Print the broker's live events, one line each, until Ctrl-C");
  cmd->footer("Without --jobs/--logs/--workers, all three are shown.");
  cmd->add_flag("--jobs", a->jobs, "job state changes (services: also readiness and restarts)");
  cmd->add_flag("--logs", a->logs, "job output lines");
  cmd->add_flag("--workers", a->workers, "workers joining, leaving and lost, and auto-scaling decisions");
  cmd->add_flag("--heartbeats", a->heartbeats, "also worker heartbeats");
  const Target* t = &target;
  cmd->callback([=] {
    try {
      *exit_code = Tail(*t, *a);
    } catch (const zmq::error_t& e) {
      std::cerr << "titan: event feed: " << e.what() << '\n';
      *exit_code = kExitNoAnswer;
    }
  });
}

}  // namespace titan::cli
