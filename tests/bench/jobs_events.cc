// Event-driven measurements for jobs_bench: per-job latency and worker failure detection, both read
// from the broker's PUB socket (EVENT_JOB on "job.<id>", EVENT_WORKER on "worker.<name>").
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "tests/bench/bench_curve.h"
#include "tests/bench/jobs_parts.h"

namespace titan::bench {
namespace {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using wire::Text;

struct Event {
  std::string topic;
  Message msg;
};

std::optional<Event> RecvEvent(zmq::socket_t& sub) {
  std::vector<zmq::message_t> parts;
  bool more = true;
  while (more) {
    zmq::message_t part;
    if (!sub.recv(part, zmq::recv_flags::dontwait)) return std::nullopt;
    more = part.more();
    parts.push_back(std::move(part));
  }
  if (parts.size() < 2) return std::nullopt;
  std::vector<std::string_view> views;
  for (size_t i = 1; i < parts.size(); ++i)
    views.emplace_back(static_cast<const char*>(parts[i].data()), parts[i].size());
  wire::Decoded d = wire::Decode(std::span<const std::string_view>(views));
  if (d.status != wire::DecodeStatus::kOk) return std::nullopt;
  return Event{std::string(static_cast<const char*>(parts[0].data()), parts[0].size()), std::move(d.msg)};
}

zmq::socket_t Subscribe(Cluster& cluster, std::initializer_list<const char*> topics) {
  zmq::socket_t sub(cluster.ctx(), zmq::socket_type::sub);
  SecureBenchClient(sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::rcvhwm, 100000);
  for (const char* t : topics) sub.set(zmq::sockopt::subscribe, t);
  sub.connect(cluster.pub_endpoint());
  return sub;
}

zmq::socket_t Dealer(Cluster& cluster) {
  zmq::socket_t s(cluster.ctx(), zmq::socket_type::dealer);
  SecureBenchClient(s);
  s.set(zmq::sockopt::linger, 0);
  s.connect(cluster.endpoint());
  return s;
}

bool IsFinalState(std::string_view s) {
  return s == "COMPLETED" || s == "FAILED" || s == "DEAD" || s == "CANCELLED" || s == "SKIPPED";
}

// One job's timeline, from sending its JOB_SUBMIT.
struct Timeline {
  double accepted = -1, assigned = -1, started = -1, done = -1;
  std::string final_state;
};

// Submits `id` and follows it until its final event or `timeout_ms`.
Timeline Follow(zmq::socket_t& dealer, zmq::socket_t& sub, const JobFile& file, const std::string& id,
                int64_t rid, int timeout_ms) {
  Timeline t;
  const auto t0 = Clock::now();
  SendRaw(dealer, static_cast<uint8_t>(MsgType::kJobSubmit), SubmitBody({id}, file, "", rid));
  const auto deadline = t0 + std::chrono::milliseconds(timeout_ms);
  const std::string topic = "job." + id;
  zmq::pollitem_t items[] = {{dealer.handle(), 0, ZMQ_POLLIN, 0}, {sub.handle(), 0, ZMQ_POLLIN, 0}};
  while ((t.accepted < 0 || t.done < 0) && Clock::now() < deadline) {
    zmq::poll(items, 2, std::chrono::milliseconds(10));
    const auto now = Clock::now();
    if (items[0].revents & ZMQ_POLLIN) {
      auto d = RecvDecoded(dealer, 0);
      if (d && d->rid == rid) {
        t.accepted = MicrosBetween(t0, now);
        if (d->msg.type != MsgType::kJobAccepted) {
          t.final_state = "REFUSED: " + std::string(d->msg.Bytes("reason"));
          return t;
        }
      }
    }
    while (auto ev = RecvEvent(sub)) {
      if (ev->topic != topic) continue;
      const std::string_view state = ev->msg.Bytes("state");
      if (state == "RUNNING") {
        if (t.assigned < 0) t.assigned = MicrosBetween(t0, now);
        t.started = MicrosBetween(t0, now);
      } else if (IsFinalState(state)) {
        t.done = MicrosBetween(t0, now);
        t.final_state = std::string(state);
      }
    }
  }
  return t;
}

std::vector<pid_t> ReadPids(const std::string& path) {
  std::vector<pid_t> pids;
  std::ifstream f(path);
  pid_t p;
  while (f >> p) pids.push_back(p);
  return pids;
}

}  // namespace

Latencies MeasureLatency(Cluster& cluster, const JobFile& file, const std::string& prefix, int n) {
  Latencies out;
  zmq::socket_t sub = Subscribe(cluster, {"job."});
  zmq::socket_t dealer = Dealer(cluster);
  int64_t rid = 1;
  // Warm-up until an event arrives: a SUB misses what is published before its subscription lands.
  for (int i = 0; i < 50; ++i) {
    const Timeline t = Follow(dealer, sub, file, prefix + "-warm-" + std::to_string(i), rid++, 2000);
    if (t.done >= 0) break;
  }
  for (int i = 0; i < n; ++i) {
    const Timeline t = Follow(dealer, sub, file, prefix + "-" + std::to_string(i), rid++, 10000);
    if (t.final_state != "COMPLETED") {
      ++out.failed;
      if (out.failed == 1)
        std::fprintf(stderr, "jobs_bench: latency job ended '%s'\n", t.final_state.c_str());
      continue;
    }
    out.accepted.push_back(t.accepted);
    out.assigned.push_back(t.assigned);
    out.started.push_back(t.started);
    out.done.push_back(t.done);
  }
  return out;
}

struct EventRecorder::Impl {
  struct Seen {
    std::vector<std::pair<std::string, Clock::time_point>> states;
  };
  std::atomic<bool> stop{false};
  std::map<std::string, Seen> jobs;
  std::thread thread;
};

EventRecorder::EventRecorder(Cluster& cluster, const std::string& prefix) : impl_(std::make_unique<Impl>()) {
  zmq::context_t& ctx = cluster.ctx();
  const std::string endpoint = cluster.pub_endpoint();
  const std::string topic = "job." + prefix;
  impl_->thread = std::thread([this, &ctx, endpoint, topic] {
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::rcvhwm, 1000000);
    sub.set(zmq::sockopt::subscribe, topic);
    sub.connect(endpoint);
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    while (!impl_->stop.load()) {
      zmq::poll(&item, 1, std::chrono::milliseconds(50));
      const auto now = Clock::now();
      while (auto ev = RecvEvent(sub)) {
        impl_->jobs[std::string(ev->msg.Bytes("id"))].states.emplace_back(std::string(ev->msg.Bytes("state")),
                                                                          now);
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the subscription land
}

EventRecorder::~EventRecorder() {
  if (impl_->thread.joinable()) Stop();
}

Breakdown EventRecorder::Stop() {
  impl_->stop = true;
  impl_->thread.join();
  Breakdown b;
  auto ms = [](Clock::time_point a, Clock::time_point z) { return MicrosBetween(a, z) / 1000.0; };
  for (const auto& [id, seen] : impl_->jobs) {
    std::vector<Clock::time_point> running;
    std::optional<Clock::time_point> done;
    for (const auto& [state, at] : seen.states) {
      if (state == "RUNNING") running.push_back(at);
      if (state == "COMPLETED") done = at;
    }
    if (running.empty() || !done) continue;
    ++b.jobs;
    b.assigned_to_done.push_back(ms(running[0], *done));
  }
  return b;
}

FailureTimes MeasureFailure(Cluster& cluster, const std::string& victim, const std::string& spare,
                            const std::string& work_dir, int timeout_s) {
  FailureTimes out;
  const std::string pid_file = work_dir + "/" + victim + ".pids";
  const JobFile sleeper{"sleeper.sh", "echo $$ >> \"$1\"\nexec sleep 120\n"};
  const std::string id = "fail-" + victim;
  zmq::socket_t sub = Subscribe(cluster, {"job.", "worker."});
  if (!cluster.AddWorker(victim, 1, "process")) return out;
  auto accepted = cluster.Call(
      wire::MakeMessage(MsgType::kJobSubmit)
          .Set("jobs", Datum(wire::List{Datum(wire::Map{{"id", Datum(Text{id})},
                                                        {"file", Datum(Text{sleeper.name})},
                                                        {"args", Datum(Text{pid_file})}})}))
          .Set("files",
               Datum(wire::List{Datum(wire::Map{{"name", Datum(Text{sleeper.name})},
                                                {"content", Datum(wire::Bytes{sleeper.content})}})})));
  if (!accepted || accepted->type != MsgType::kJobAccepted) {
    std::fprintf(stderr, "jobs_bench: the failure job was not accepted\n");
    return out;
  }
  // Running once its process wrote its pid.
  for (int i = 0; i < 2000 && ReadPids(pid_file).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (ReadPids(pid_file).empty()) {
    std::fprintf(stderr, "jobs_bench: the failure job never started on %s\n", victim.c_str());
    return out;
  }
  if (!cluster.AddWorker(spare, 1, "process")) return out;
  while (RecvEvent(sub)) {
  }
  const auto t0 = Clock::now();
  kill(cluster.WorkerPid(victim), SIGKILL);
  cluster.StopWorker(victim, SIGKILL);  // reaps it
  const auto deadline = t0 + std::chrono::seconds(timeout_s);
  zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
  while ((out.lost_ms < 0 || out.rerun_ms < 0) && Clock::now() < deadline) {
    zmq::poll(&item, 1, std::chrono::milliseconds(10));
    const auto now = Clock::now();
    while (auto ev = RecvEvent(sub)) {
      const double ms = MicrosBetween(t0, now) / 1000.0;
      if (ev->topic == "worker." + victim && ev->msg.Bytes("event") == "lost" && out.lost_ms < 0)
        out.lost_ms = ms;
      if (ev->topic == "job." + id) {
        const std::string_view state = ev->msg.Bytes("state");
        if (state == "QUEUED" && out.requeued_ms < 0) out.requeued_ms = ms;
        if (state == "RUNNING" && ev->msg.Bytes("worker") == spare && out.rerun_ms < 0) out.rerun_ms = ms;
      }
    }
  }
  // Clean up: stop the job where it runs now, and end every process the job left (its own groups).
  cluster.Call(wire::MakeMessage(MsgType::kJobStop).Set("id", Datum(Text{id})));
  for (int i = 0; i < 200 && ReadPids(pid_file).size() < 2 && out.rerun_ms >= 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (pid_t p : ReadPids(pid_file)) {
    kill(-p, SIGKILL);
    kill(p, SIGKILL);
  }
  cluster.StopWorker(spare, SIGTERM);
  return out;
}

}  // namespace titan::bench
