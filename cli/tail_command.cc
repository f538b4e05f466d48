// `titan tail`: every event the broker publishes (job states, log lines, workers), one line each,
// until Ctrl-C (or until the broker refuses its credential).
#include <time.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string_view>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "base/signal_watch.h"
#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"
#include "schemas/cpp/transport.h"
#include "schemas/generated/messages.h"
#include "security/client_security.h"

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

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string JobLine(const std::string& topic, const wire::EventJobMsg& e) {
  std::string line =
      ClockTime(e.ts_ms) + "  " + topic + "  " + e.state + "  attempt " + std::to_string(e.attempt);
  if (e.worker) line += " on " + *e.worker;
  if (e.exit_code) line += ", exit " + std::to_string(*e.exit_code);
  if (e.reason) line += " (" + *e.reason + ")";
  return line + '\n';
}

// One line per line of output (a final line without '\n' too).
std::string LogLines(const std::string& prefix, const wire::EventLogMsg& e) {
  const std::string tag = e.stream == "stderr" ? "[stderr] " : "";
  std::string out;
  std::string_view bytes = e.blobs.empty() ? std::string_view() : std::string_view(e.blobs[0]);
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    out += prefix + tag + std::string(bytes.substr(0, nl)) + '\n';
    bytes.remove_prefix(nl == std::string_view::npos ? bytes.size() : nl + 1);
  }
  return out;
}

std::string WorkerLine(const std::string& prefix, const wire::EventWorkerMsg& e, bool heartbeats) {
  if (e.event == "heartbeat" && !heartbeats) return "";
  return prefix + e.event + "  load " + std::to_string(e.worker.busy) + "/" + std::to_string(e.worker.slots) +
         " [" + Join(e.worker.capabilities) + "]\n";
}

// An auto-scaling decision; the topic names the child worker.
std::string ScaleLine(const std::string& prefix, const wire::EventScaleMsg& e) {
  return prefix + "auto-scaling " + e.event.action + " on " + e.event.parent + ": " + e.event.reason + "\n";
}

// `render` of the event read into its struct T ("" if it does not read: Decode checked it, so it does).
template <class T, class Render>
std::string Lines(const wire::Message& m, Render render) {
  const Result<T> event = T::From(m);
  return event.ok() ? render(event.value()) : "";
}

// The lines printed for one event (none for a heartbeat unless asked for).
std::string RenderEvent(const std::string& topic, const wire::Message& m, bool heartbeats) {
  const std::string prefix = ClockTime(WallMs()) + "  " + topic + "  ";
  switch (m.type) {
    case wire::MsgType::kEventJob:
      return Lines<wire::EventJobMsg>(m, [&](const auto& e) { return JobLine(topic, e); });
    case wire::MsgType::kEventLog:
      return Lines<wire::EventLogMsg>(m, [&](const auto& e) { return LogLines(prefix, e); });
    case wire::MsgType::kEventWorker:
      return Lines<wire::EventWorkerMsg>(m, [&](const auto& e) { return WorkerLine(prefix, e, heartbeats); });
    case wire::MsgType::kEventScale:
      return Lines<wire::EventScaleMsg>(m, [&](const auto& e) { return ScaleLine(prefix, e); });
    default:
      return "";
  }
}

// The broker's event feed: a SUB socket with the topics asked for, and its handshake monitor.
struct Feed {
  Feed(zmq::context_t& ctx, const TailArgs& args, const std::optional<security::Credential>& credential,
       const std::string& pub)
      : sub(ctx, zmq::socket_type::sub), watch(ctx, sub) {
    wire::ConfigureSocket(sub);
    sub.set(zmq::sockopt::linger, 0);
    if (credential) security::SecureClient(sub, *credential);
    if (args.jobs) sub.set(zmq::sockopt::subscribe, "job.");
    if (args.logs) sub.set(zmq::sockopt::subscribe, "log.");
    if (args.workers) sub.set(zmq::sockopt::subscribe, "worker.");
    if (args.workers) sub.set(zmq::sockopt::subscribe, "scale.");
    sub.connect(pub);
  }
  zmq::socket_t sub;
  security::HandshakeWatch watch;  // declared after sub: destroyed before it
};

// Prints the feed's next event, if one is waiting.
void PrintEvent(zmq::socket_t& sub, bool heartbeats) {
  zmq::multipart_t frames;
  if (!frames.recv(sub, ZMQ_DONTWAIT) || frames.size() < 2) return;
  std::vector<std::string_view> payload;
  for (size_t i = 1; i < frames.size(); ++i) payload.push_back(frames[i].to_string_view());
  const wire::Decoded d = wire::Decode(std::span<const std::string_view>(payload));
  if (d.status != wire::DecodeStatus::kOk) {
    std::cerr << "titan: undecodable event on " << frames[0].to_string() << ": " << d.reason << '\n';
    return;
  }
  std::cout << RenderEvent(frames[0].to_string(), d.msg, heartbeats) << std::flush;
}

// Until Ctrl-C, or the broker refuses the handshake (a revoked credential: its subscription was closed).
// A credential file that changed meanwhile (a rotated server key) is used to connect again.
int Tail(const Target& target, TailArgs args) {
  SignalWatch signals;  // before any ZeroMQ thread exists
  if (!args.jobs && !args.logs && !args.workers) args.jobs = args.logs = args.workers = true;
  BrokerClient broker(target);
  std::string pub;
  if (const int rc = broker.PubEndpoint(&pub); rc != kExitOk) return rc;
  std::optional<security::Credential> credential = broker.credential();
  zmq::context_t ctx{1};
  auto feed = std::make_unique<Feed>(ctx, args, credential, pub);
  std::cerr << "titan: tailing " << pub << " (Ctrl-C to stop)\n";
  for (;;) {
    zmq::pollitem_t items[] = {
        {feed->sub.handle(), 0, ZMQ_POLLIN, 0}, signals.PollItem(), feed->watch.PollItem()};
    zmq::poll(items, 3, std::chrono::milliseconds(-1));
    if (items[1].revents & ZMQ_POLLIN) return kExitOk;
    const std::string who = credential ? "principal '" + credential->principal + "'" : "";
    if (std::optional<std::string> refused = feed->watch.TakeFailure(pub, who)) {
      std::optional<security::Credential> fresh = credential ? security::Reread(*credential) : std::nullopt;
      if (!fresh) {
        std::cerr << "titan: " << *refused << '\n';
        return kExitNoAnswer;
      }
      std::cerr << "titan: " << fresh->path << " changed: connecting again with it\n";
      credential = std::move(fresh);
      feed.reset();
      feed = std::make_unique<Feed>(ctx, args, credential, pub);
      continue;
    }
    if (items[0].revents & ZMQ_POLLIN) PrintEvent(feed->sub, args.heartbeats);
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
