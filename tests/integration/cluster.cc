// Cluster: starting and stopping a whole Titan on loopback, and the client calls tests make on it.
#include "tests/integration/cluster.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <zmq.hpp>

#include "schemas/cpp/transport.h"
#include "security/client_security.h"
#include "security/key_files.h"

namespace titan::testing {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using wire::Text;

namespace {

constexpr auto kStartDeadline = std::chrono::seconds(20);
constexpr int kCallTimeoutMs = 10000;

}  // namespace

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

bool Cluster::EnableCurve() {
  const security::KeyFiles keys{dir_.File("keys")};
  const int64_t now_ms = 0;  // "added" times only
  Result<bool> made = security::InitKeys(keys, now_ms);
  Result<security::Credential> admin = made.ok() ? security::ReadCredential(keys.admin_credential())
                                                 : Result<security::Credential>(made.status());
  Result<security::Credential> worker =
      admin.ok() ? security::AddPrincipal(keys, "test-worker", security::Role::kWorker, now_ms)
                 : admin.status();
  Status written = worker.ok() ? security::WriteCredential(dir_.File("worker.cred"), worker.value(), false)
                               : worker.status();
  if (!written.ok()) {
    error_ = "cannot make the keys folder: " + written.message();
    return false;
  }
  admin_ = admin.value();
  worker_credential_ = worker.value();
  keys_args_ = {"--keys", keys.dir};
  return true;
}

void Cluster::SecureRaw(zmq::socket_t& s, bool as_worker) const {
  const std::optional<security::Credential>& c = as_worker ? worker_credential_ : admin_;
  if (c) security::SecureClient(s, *c);
}

bool Cluster::Start(std::vector<std::string> broker_args) {
  broker_args_ = std::move(broker_args);
  std::vector<std::string> store_args{"store", "--port", "0", "--dir", dir_.File("store")};
  store_args.insert(store_args.end(), keys_args_.begin(), keys_args_.end());
  store_ = std::make_unique<NodeProcess>(std::move(store_args), dir_.File("store.log"));
  if (!store_->WaitReady(kStartDeadline)) {
    error_ = "the store did not announce READY";
    return false;
  }
  store_port_ = store_->port();
  if (!StartBroker(0, 0, 0)) return false;
  feed_ = std::make_unique<EventFeed>(*ctx_, Endpoint(pub_port_), std::vector<std::string>{"job."}, admin_);
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
                                std::to_string(store_port_)};
  args.insert(args.end(), broker_args_.begin(), broker_args_.end());
  args.insert(args.end(), keys_args_.begin(), keys_args_.end());
  // The suite's 200 ms heartbeat, the broker's default liveness (10 heartbeats: a worker's fencing lease is
  // 1.7 s then, so a loaded CI machine pausing a process for a second kills no run) and 5 s of recovery
  // grace, unless a test sets its own.
  const auto given = [&](const char* flag) {
    return std::ranges::find(broker_args_, flag) != broker_args_.end();
  };
  if (!given("--heartbeat-ms")) args.insert(args.end(), {"--heartbeat-ms", std::to_string(kHeartbeatMs)});
  if (!given("--liveness")) args.insert(args.end(), {"--liveness", "10"});
  if (!given("--recovery-grace-ms")) args.insert(args.end(), {"--recovery-grace-ms", "5000"});
  broker_ = std::make_unique<NodeProcess>(std::move(args),
                                          dir_.File("broker-" + std::to_string(broker_generation_) + ".log"));
  if (!broker_->WaitReady(kStartDeadline)) {
    error_ = "the broker did not announce READY (see broker-" + std::to_string(broker_generation_) + ".log)";
    return false;
  }
  broker_port_ = broker_->port();
  client_ = std::make_unique<wire::NodeClient>("127.0.0.1", broker_port_, kCallTimeoutMs);
  client_->set_credential(admin_);
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
  std::vector<std::string> args = {"--port", std::to_string(broker_port_)};
  if (worker_credential_) args.insert(args.end(), {"--credentials", dir_.File("worker.cred")});
  args.insert(args.end(),
              {"worker", "--name", name, "--dir", dir_.File(name), "--slots", std::to_string(slots),
               "--heartbeat-ms", std::to_string(kHeartbeatMs), "--kill-grace-ms", "2000"});
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
  if (!Call(wire::MakeMessage(MsgType::kStatsGet), &reply)) {
    StatsView s;
    s.error = error_;
    return s;
  }
  return StatsOf(reply);
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

}  // namespace titan::testing
