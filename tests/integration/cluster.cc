// Cluster: starting and stopping a whole Titan on loopback, and the client calls tests make on it.
#include "tests/integration/cluster.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <zmq.hpp>

#include "schemas/cpp/transport.h"

namespace titan::testing {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using wire::Text;

namespace {

constexpr auto kStartDeadline = std::chrono::seconds(20);
constexpr int kCallTimeoutMs = 10000;

const Datum* Field(const wire::Map& m, std::string_view name) {
  for (const auto& [k, v] : m) {
    if (k == name && !v.is_nil()) return &v;
  }
  return nullptr;
}

std::string StrOf(const wire::Map& m, std::string_view name) {
  const Datum* d = Field(m, name);
  return d ? std::string(d->bytes()) : std::string();
}

int64_t IntOf(const wire::Map& m, std::string_view name) {
  const Datum* d = Field(m, name);
  return d && std::holds_alternative<int64_t>(d->v) ? std::get<int64_t>(d->v) : 0;
}

std::vector<std::string> StrsOf(const wire::Map& m, std::string_view name) {
  std::vector<std::string> out;
  const Datum* d = Field(m, name);
  if (d && std::holds_alternative<wire::List>(d->v)) {
    for (const auto& s : std::get<wire::List>(d->v)) out.emplace_back(s.bytes());
  }
  return out;
}

wire::List TextList(const std::vector<std::string>& v) {
  wire::List out;
  for (const auto& s : v) out.push_back(Datum(Text{s}));
  return out;
}

JobView ViewOf(const Message& reply) {
  JobView v;
  if (reply.type != MsgType::kJobInfo) {
    v.error = std::string(wire::NameOf(reply.type)) + " " + std::string(reply.Bytes("code")) + " " +
              std::string(reply.Bytes("reason"));
    return v;
  }
  v.found = reply.Bool("found");
  const Datum* job = reply.Find("job");
  if (!v.found || job == nullptr || !std::holds_alternative<wire::Map>(job->v)) return v;
  const auto& m = std::get<wire::Map>(job->v);
  v.id = StrOf(m, "id");
  v.state = StrOf(m, "state");
  v.worker = StrOf(m, "worker");
  v.reason = StrOf(m, "reason");
  v.attempt = IntOf(m, "attempt");
  v.priority = IntOf(m, "priority");
  v.submitted_ms = IntOf(m, "submitted_ms");
  v.started_ms = IntOf(m, "started_ms");
  v.finished_ms = IntOf(m, "finished_ms");
  if (Field(m, "exit_code")) v.exit_code = IntOf(m, "exit_code");
  v.port = IntOf(m, "port");
  v.restarts = IntOf(m, "restarts");
  if (const Datum* r = Field(m, "ready")) v.ready = std::get<bool>(r->v);
  return v;
}

}  // namespace

Deadline In(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }

int64_t MillisLeft(Deadline d) {
  return std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(d - std::chrono::steady_clock::now()).count());
}

Datum JobSpec::ToDatum() const {
  wire::Map m = {{"id", Datum(Text{id})}, {"file", Datum(Text{file})}};
  if (!args.empty()) m.emplace_back("args", Datum(Text{args}));
  if (priority) m.emplace_back("priority", Datum(*priority));
  if (delay_ms) m.emplace_back("delay_ms", Datum(*delay_ms));
  if (!requirement.empty()) m.emplace_back("requirement", Datum(Text{requirement}));
  if (affinity) m.emplace_back("affinity", Datum(*affinity));
  if (!parents.empty()) m.emplace_back("parents", Datum(TextList(parents)));
  if (retries) m.emplace_back("retries", Datum(*retries));
  if (timeout_ms) m.emplace_back("timeout_ms", Datum(*timeout_ms));
  if (!env.empty()) m.emplace_back("env", Datum(TextList(env)));
  for (const auto& kv : extra) m.push_back(kv);
  return Datum(std::move(m));
}

bool JobView::final() const {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELLED" || state == "DEAD" ||
         state == "SKIPPED";
}

std::string JobView::Render() const {
  if (!error.empty()) return "error: " + error;
  if (!found) return "not found";
  std::string out = id + " " + state + " attempt=" + std::to_string(attempt);
  if (!worker.empty()) out += " worker=" + worker;
  if (exit_code) out += " exit=" + std::to_string(*exit_code);
  if (!reason.empty()) out += " reason=" + reason;
  return out;
}

const WorkerView* StatsView::Worker(const std::string& name) const {
  for (const auto& w : workers) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

// ---- EventFeed ----

EventFeed::EventFeed(zmq::context_t& ctx, const std::string& endpoint, std::vector<std::string> prefixes) {
  sub_ = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::sub);
  wire::ConfigureSocket(*sub_);
  sub_->set(zmq::sockopt::linger, 0);
  prefixes.push_back("worker.");
  for (const auto& p : prefixes) sub_->set(zmq::sockopt::subscribe, p);
  sub_->connect(endpoint);
}

EventFeed::~EventFeed() = default;

bool EventFeed::Sync(Deadline deadline) { return Next(deadline).has_value(); }

std::optional<Event> EventFeed::Next(Deadline deadline) {
  for (;;) {
    zmq::pollitem_t item{sub_->handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(MillisLeft(deadline))) <= 0) return std::nullopt;
    std::vector<std::string> frames;
    for (;;) {
      zmq::message_t part;
      if (!sub_->recv(part, zmq::recv_flags::dontwait)) break;
      frames.emplace_back(static_cast<const char*>(part.data()), part.size());
      if (!part.more()) break;
    }
    if (frames.size() < 2) continue;
    Event e;
    e.topic = frames.front();
    frames.erase(frames.begin());
    wire::Decoded d = wire::Decode(frames);
    if (d.status != wire::DecodeStatus::kOk) continue;
    e.msg = std::move(d.msg);
    return e;
  }
}

// ---- Cluster ----

Cluster::Cluster() : ctx_(std::make_unique<zmq::context_t>(1)) {}

zmq::context_t& Cluster::context() { return *ctx_; }

Cluster::~Cluster() {
  if (::testing::Test::HasFailure()) {
    std::vector<std::string> logs;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      if (entry.path().extension() == ".log") logs.push_back(entry.path().string());
    }
    std::sort(logs.begin(), logs.end());
    for (const auto& log : logs) std::cerr << "==== " << log << " (tail)\n" << LogTail(log);
  }
  // Workers first, all at once: SIGINT stops their jobs now (no drain).
  for (auto& [name, w] : workers_) {
    if (w->pid() > 0) kill(w->pid(), SIGINT);
  }
  for (auto& [name, w] : workers_) w->Terminate(SIGINT, std::chrono::seconds(10));
  feed_.reset();
  client_.reset();
  if (broker_) broker_->Terminate(SIGTERM, std::chrono::seconds(5));
  if (store_) store_->Terminate(SIGTERM, std::chrono::seconds(5));
}

std::string Cluster::LogTail(const std::string& file) const {
  const std::vector<std::string> lines = ReadLines(file);
  std::string out;
  for (size_t i = lines.size() > 40 ? lines.size() - 40 : 0; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

bool Cluster::Start(std::vector<std::string> broker_args) {
  broker_args_ = std::move(broker_args);
  store_ = std::make_unique<NodeProcess>(
      std::vector<std::string>{"store", "--port", "0", "--dir", dir_.File("store")}, dir_.File("store.log"));
  if (!store_->WaitReady(kStartDeadline)) {
    error_ = "the store did not announce READY";
    return false;
  }
  store_port_ = store_->port();
  if (!StartBroker(0, 0, 0)) return false;
  feed_ = std::make_unique<EventFeed>(*ctx_, Endpoint(pub_port_), std::vector<std::string>{"job."});
  return true;
}

bool Cluster::StartBroker(int port, int worker_port, int pub_port) {
  ++broker_generation_;
  std::vector<std::string> args{"broker",
                                "--port",
                                std::to_string(port),
                                "--worker-port",
                                std::to_string(worker_port),
                                "--pub-port",
                                std::to_string(pub_port),
                                "--dir",
                                dir_.File("broker"),
                                "--store-port",
                                std::to_string(store_port_),
                                "--heartbeat-ms",
                                std::to_string(kHeartbeatMs)};
  args.insert(args.end(), broker_args_.begin(), broker_args_.end());
  broker_ = std::make_unique<NodeProcess>(std::move(args),
                                          dir_.File("broker-" + std::to_string(broker_generation_) + ".log"));
  if (!broker_->WaitReady(kStartDeadline)) {
    error_ = "the broker did not announce READY (see broker-" + std::to_string(broker_generation_) + ".log)";
    return false;
  }
  broker_port_ = broker_->port();
  client_ = std::make_unique<wire::NodeClient>("127.0.0.1", broker_port_, kCallTimeoutMs);
  std::string err;
  if (!client_->Discover(&err)) {
    error_ = "HELLO to the broker failed: " + err;
    return false;
  }
  worker_port_ = static_cast<int>(client_->welcome().worker_port.value_or(0));
  pub_port_ = static_cast<int>(client_->welcome().pub_port.value_or(0));
  if (worker_port_ <= 0 || pub_port_ <= 0) {
    error_ = "the broker's WELCOME announced no worker_port/pub_port";
    return false;
  }
  return true;
}

bool Cluster::RestartBroker() {
  const int port = broker_port_, wport = worker_port_, pport = pub_port_;
  if (!StartBroker(port, wport, pport)) return false;
  if (broker_port_ != port || worker_port_ != wport || pub_port_ != pport) {
    error_ = "the restarted broker is on other ports";
    return false;
  }
  return true;
}

bool Cluster::AddWorker(const std::string& name, int slots, const std::vector<std::string>& tags,
                        const std::vector<std::string>& extra_args) {
  std::vector<std::string> args = {"--port",
                                   std::to_string(broker_port_),
                                   "worker",
                                   "--name",
                                   name,
                                   "--dir",
                                   dir_.File(name),
                                   "--slots",
                                   std::to_string(slots),
                                   "--heartbeat-ms",
                                   std::to_string(kHeartbeatMs),
                                   "--kill-grace-ms",
                                   "2000"};
  for (const auto& t : tags) {
    args.push_back("--tag");
    args.push_back(t);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto w = std::make_unique<NodeProcess>(args, dir_.File(name + ".log"));
  if (!w->WaitReadyName(kStartDeadline) || w->role() != "worker" || w->name() != name) {
    error_ = "worker " + name + " did not announce READY worker " + name + " (see " + name + ".log)";
    return false;
  }
  workers_.emplace_back(name, std::move(w));
  return true;
}

NodeProcess* Cluster::worker(const std::string& name) {
  for (auto& [n, w] : workers_) {
    if (n == name) return w.get();
  }
  return nullptr;
}

bool Cluster::Call(const Message& request, Message* reply, int timeout_ms) {
  std::string err;
  if (!client_->Call(request, reply, &err, timeout_ms)) {
    error_ = err;
    return false;
  }
  return true;
}

SubmitResult Cluster::Submit(const std::vector<JobSpec>& jobs,
                             const std::map<std::string, std::string>& files) {
  wire::List specs, blobs;
  for (const auto& j : jobs) specs.push_back(j.ToDatum());
  for (const auto& [name, content] : files) {
    blobs.push_back(Datum(wire::Map{{"name", Datum(Text{name})}, {"content", Datum(wire::Bytes{content})}}));
  }
  Message reply;
  SubmitResult r;
  if (!Call(wire::MakeMessage(MsgType::kJobSubmit)
                .Set("jobs", Datum(std::move(specs)))
                .Set("files", Datum(std::move(blobs))),
            &reply)) {
    r.error_code = "NO_REPLY";
    r.error = error_;
    return r;
  }
  if (reply.type != MsgType::kJobAccepted) {
    r.error_code = reply.type == MsgType::kError ? std::string(reply.Bytes("code"))
                                                 : std::string(wire::NameOf(reply.type));
    r.error = std::string(reply.Bytes("reason"));
    return r;
  }
  for (const auto& d : std::get<wire::List>(reply.Find("ids")->v)) r.ids.emplace_back(d.bytes());
  return r;
}

JobView Cluster::Get(const std::string& id) {
  Message reply;
  if (!Call(wire::MakeMessage(MsgType::kJobGet).Set("id", Datum(Text{id})), &reply)) return JobView{error_};
  return ViewOf(reply);
}

JobView Cluster::Stop(const std::string& id) {
  Message reply;
  if (!Call(wire::MakeMessage(MsgType::kJobStop).Set("id", Datum(Text{id})), &reply)) return JobView{error_};
  return ViewOf(reply);
}

JobView Cluster::Wait(const std::string& id, int64_t timeout_ms) {
  Message reply;
  const Message req =
      wire::MakeMessage(MsgType::kJobWait).Set("id", Datum(Text{id})).Set("timeout_ms", Datum(timeout_ms));
  if (!Call(req, &reply, static_cast<int>(timeout_ms) + kCallTimeoutMs)) return JobView{error_};
  return ViewOf(reply);
}

JobView Cluster::WaitFinal(const std::string& id, Deadline deadline) {
  JobView last{"deadline passed before any answer"};
  for (;;) {
    const int64_t left = MillisLeft(deadline);
    if (left <= 0) return last;
    JobView v = Wait(id, std::min<int64_t>(left, 5000));
    if (v.error.empty()) {
      last = v;
      if (!v.found || v.final()) return v;
    }
  }
}

StatsView Cluster::Stats() {
  Message reply;
  StatsView s;
  if (!Call(wire::MakeMessage(MsgType::kStatsGet), &reply)) {
    s.error = error_;
    return s;
  }
  if (reply.type != MsgType::kStats) {
    s.error = std::string(wire::NameOf(reply.type)) + " " + std::string(reply.Bytes("reason"));
    return s;
  }
  s.pending = reply.Int("pending");
  s.blocked = reply.Int("blocked");
  s.scheduled = reply.Int("scheduled");
  s.queued = reply.Int("queued");
  s.running = reply.Int("running");
  s.unsatisfiable = reply.Int("unsatisfiable");
  s.completed = reply.Int("completed");
  s.failed = reply.Int("failed");
  for (const auto& d : std::get<wire::List>(reply.Find("workers")->v)) {
    const auto& m = std::get<wire::Map>(d.v);
    s.workers.push_back(WorkerView{StrOf(m, "name"), StrOf(m, "state"), StrOf(m, "parent"), IntOf(m, "slots"),
                                   IntOf(m, "busy"), StrsOf(m, "capabilities"), StrsOf(m, "running")});
  }
  return s;
}

bool Cluster::WaitFor(const std::function<bool()>& done, Deadline deadline) {
  for (;;) {
    if (done()) return true;
    if (MillisLeft(deadline) <= 0) return false;
    feed_->Next(std::min(deadline, In(std::chrono::milliseconds(250))));
  }
}

JobView Cluster::WaitJob(const std::string& id, const std::function<bool(const JobView&)>& pred,
                         Deadline deadline) {
  JobView last;
  WaitFor(
      [&] {
        last = Get(id);
        return pred(last);
      },
      deadline);
  return last;
}

// ---- files ----

bool WaitForFiles(const std::string& dir, const std::function<bool()>& done, Deadline deadline) {
  const int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return false;
  std::filesystem::create_directories(dir);
  // Watch first, then check, so nothing created in between is missed.
  const bool watching =
      inotify_add_watch(fd, dir.c_str(), IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB) >= 0;
  bool ok = false;
  while (watching) {
    if (done()) {
      ok = true;
      break;
    }
    const int64_t left = MillisLeft(deadline);
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) break;
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
  }
  close(fd);
  return ok;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(path));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace titan::testing
