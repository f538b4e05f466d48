// Cluster: a real broker and workers for jobs_bench, plus the client side of the broker dialog.
#include "tests/bench/cluster.h"

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "artifacts/sha256.h"
#include "schemas/cpp/transport.h"
#include "schemas/generated/protocol.h"
#include "tests/bench/bench_curve.h"

namespace titan::bench {
namespace {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using wire::Text;

std::string_view View(const zmq::message_t& m) { return {static_cast<const char*>(m.data()), m.size()}; }

void ConfigureClient(zmq::socket_t& s) {
  SecureBenchClient(s);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, 100000);
  s.set(zmq::sockopt::rcvhwm, 100000);
}

}  // namespace

void SendRaw(zmq::socket_t& s, uint8_t type, const std::string& body) {
  const char t = static_cast<char>(type);
  s.send(zmq::const_buffer(nullptr, 0), zmq::send_flags::sndmore);
  s.send(zmq::const_buffer(wire::kSignature.data(), wire::kSignature.size()), zmq::send_flags::sndmore);
  s.send(zmq::const_buffer(&t, 1), zmq::send_flags::sndmore);
  s.send(zmq::const_buffer(body.data(), body.size()), zmq::send_flags::none);
}

std::optional<wire::Decoded> RecvDecoded(zmq::socket_t& s, int timeout_ms) {
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) <= 0) return std::nullopt;
  std::vector<zmq::message_t> parts;
  bool more = true;
  while (more) {
    zmq::message_t part;
    (void)s.recv(part, zmq::recv_flags::none);
    more = part.more();
    parts.push_back(std::move(part));
  }
  std::vector<std::string_view> views;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i == 0 && parts[i].size() == 0) continue;
    views.push_back(View(parts[i]));
  }
  return wire::Decode(std::span<const std::string_view>(views));
}

Cluster::Cluster(std::string dir, const std::vector<std::string>& broker_args) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  std::vector<std::string> args = {"broker",     "--port", "0",     "--worker-port", "0",
                                   "--pub-port", "0",      "--dir", dir_ + "/broker"};
  for (const std::string& a : NodeKeyArgs()) args.push_back(a);
  for (const std::string& a : broker_args) args.push_back(a);
  broker_ = std::make_unique<TitanProcess>(args, dir_ + "/broker.log");
  if (broker_->WaitReady().empty()) {
    std::fprintf(stderr, "jobs_bench: the broker did not start (see %s/broker.log)\n", dir_.c_str());
    return;
  }
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(broker_->port());
  client_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
  ConfigureClient(*client_);
  client_->connect(endpoint_);
  auto welcome = Call(wire::MakeMessage(MsgType::kHello).Set("client", Datum(Text{"jobs_bench"})));
  if (!welcome || welcome->type != MsgType::kWelcome) {
    std::fprintf(stderr, "jobs_bench: the broker did not answer HELLO\n");
    return;
  }
  pub_port_ = static_cast<int>(welcome->Int("pub_port"));
  port_ = broker_->port();
}

Cluster::~Cluster() {
  for (auto& [name, w] : workers_) kill(w->pid(), SIGTERM);
  for (auto& [name, w] : workers_) w->Stop(SIGTERM, std::chrono::seconds(10));
  client_.reset();
  if (broker_) broker_->Stop(SIGTERM, std::chrono::seconds(10));
}

bool Cluster::AddWorker(const std::string& name, int slots, const std::string& executor) {
  const size_t before = WorkerCount();
  std::vector<std::string> args = {"--port", std::to_string(port_)};
  for (const std::string& a : WorkerCredentialArgs()) args.push_back(a);
  for (const std::string& a :
       {std::string("worker"), std::string("--name"), name, std::string("--dir"), dir_ + "/" + name,
        std::string("--slots"), std::to_string(slots), std::string("--executor"), executor}) {
    args.push_back(a);
  }
  auto w = std::make_unique<TitanProcess>(args, dir_ + "/" + name + ".log");
  if (w->WaitReady().empty()) {
    std::fprintf(stderr, "jobs_bench: worker %s did not start (see %s/%s.log)\n", name.c_str(), dir_.c_str(),
                 name.c_str());
    return false;
  }
  workers_[name] = std::move(w);
  for (int i = 0; i < 500; ++i) {
    if (WorkerCount() > before) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "jobs_bench: the broker does not list worker %s\n", name.c_str());
  return false;
}

void Cluster::StopWorker(const std::string& name, int sig) {
  auto it = workers_.find(name);
  if (it == workers_.end()) return;
  it->second->Stop(sig, std::chrono::seconds(10));
  workers_.erase(it);
}

pid_t Cluster::WorkerPid(const std::string& name) const {
  auto it = workers_.find(name);
  return it == workers_.end() ? -1 : it->second->pid();
}

pid_t Cluster::BrokerPid() const { return broker_ ? broker_->pid() : -1; }

std::optional<Message> Cluster::Call(Message request, int timeout_ms) {
  const int64_t rid = next_rid_++;
  request.Set("rid", Datum(rid));
  if (!wire::SendRequest(*client_, request)) return std::nullopt;
  const auto until = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    auto d = RecvDecoded(*client_, static_cast<int>(left));
    if (!d) return std::nullopt;
    if (d->status == wire::DecodeStatus::kOk && d->rid == rid) return std::move(d->msg);
  }
}

std::pair<int64_t, int64_t> Cluster::Counts() {
  auto stats = Call(wire::MakeMessage(MsgType::kStatsGet));
  if (!stats || stats->type != MsgType::kStats) return {-1, -1};
  return {stats->Int("completed"), stats->Int("failed")};
}

size_t Cluster::WorkerCount() {
  auto stats = Call(wire::MakeMessage(MsgType::kStatsGet));
  if (!stats || stats->type != MsgType::kStats) return 0;
  const wire::Datum* w = stats->Find("workers");
  return w ? std::get<wire::List>(w->v).size() : 0;
}

std::string SubmitBody(const std::vector<std::string>& ids, const JobFile& file, const std::string& args,
                       int64_t rid, const std::string& sha256) {
  std::string b;
  b.reserve(file.content.size() + ids.size() * 48 + 64);
  mp::MapHeader(&b, 3);
  mp::Str(&b, "jobs");
  mp::ArrayHeader(&b, ids.size());
  for (const auto& id : ids) {
    mp::MapHeader(&b, args.empty() ? 2 : 3);
    mp::Str(&b, "id");
    mp::Str(&b, id);
    mp::Str(&b, "file");
    mp::Str(&b, file.name);
    if (!args.empty()) {
      mp::Str(&b, "args");
      mp::Str(&b, args);
    }
  }
  mp::Str(&b, "files");
  mp::ArrayHeader(&b, 1);
  mp::MapHeader(&b, 2);
  mp::Str(&b, "name");
  mp::Str(&b, file.name);
  if (sha256.empty()) {
    mp::Str(&b, "content");
    mp::Bin(&b, file.content);
  } else {
    mp::Str(&b, "sha256");
    mp::Str(&b, sha256);
  }
  mp::Str(&b, "rid");
  mp::Int(&b, rid);
  return b;
}

StreamResult SubmitStream(Cluster& cluster, const std::string& prefix, size_t n, size_t batch, size_t window,
                          const JobFile& file, int timeout_s) {
  StreamResult r;
  const auto [base_completed, base_failed] = cluster.Counts();
  zmq::socket_t s(cluster.ctx(), zmq::socket_type::dealer);
  ConfigureClient(s);
  s.connect(cluster.endpoint());
  // One HELLO round trip first, so the connection is up before the clock starts.
  SendRaw(s, static_cast<uint8_t>(MsgType::kHello), std::string("\x80", 1));
  if (!RecvDecoded(s, 10000)) {
    r.error = "no WELCOME";
    return r;
  }
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::seconds(timeout_s);
  size_t sent = 0, outstanding = 0;
  int64_t rid = 1;
  std::string last_id;
  // Like the SDK: the script's bytes with the first submission, its hash with the later ones (the
  // broker handles the first before them: one connection, in order).
  const std::string sha256 = artifacts::Sha256Hex(file.content);
  while (sent < n || outstanding > 0) {
    while (sent < n && outstanding < window) {
      std::vector<std::string> ids;
      for (size_t k = 0; k < batch && sent < n; ++k) ids.push_back(prefix + "-" + std::to_string(sent++));
      last_id = ids.back();
      SendRaw(s, static_cast<uint8_t>(MsgType::kJobSubmit),
              SubmitBody(ids, file, "", rid, rid == 1 ? "" : sha256));
      ++rid;
      ++outstanding;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    auto d = RecvDecoded(s, static_cast<int>(std::max<int64_t>(left, 1)));
    if (!d) {
      r.error = "timed out waiting for JOB_ACCEPTED";
      return r;
    }
    --outstanding;
    if (d->status != wire::DecodeStatus::kOk || d->msg.type != MsgType::kJobAccepted) {
      if (r.error.empty()) r.error = "submit refused: " + std::string(d->msg.Bytes("reason"));
      continue;
    }
    r.jobs += std::get<wire::List>(d->msg.Find("ids")->v).size();
  }
  r.submit_seconds = SecondsBetween(t0, Clock::now());
  // The last job submitted is among the last to run (FIFO within a priority): wait for it on the
  // broker, then confirm the count with STATS. No progress for kStallMs means jobs are stuck.
  constexpr int64_t kStallMs = 10000;
  int64_t last_finished = -1;
  auto last_progress = Clock::now();
  bool last_done = false;
  while (Clock::now() < deadline) {
    if (!last_done) {
      auto info = cluster.Call(wire::MakeMessage(MsgType::kJobWait)
                                   .Set("id", Datum(Text{last_id}))
                                   .Set("timeout_ms", Datum(int64_t{1000})),
                               10000);
      const wire::Datum* job = info ? info->Find("job") : nullptr;
      if (job != nullptr) {
        for (const auto& [k, v] : std::get<wire::Map>(job->v)) {
          if (k == "state") {
            const std::string_view st = v.bytes();
            last_done =
                st == "COMPLETED" || st == "FAILED" || st == "DEAD" || st == "CANCELLED" || st == "SKIPPED";
          }
        }
      }
    }
    const auto [completed, failed] = cluster.Counts();
    const int64_t finished = completed + failed - base_completed - base_failed;
    if (finished >= static_cast<int64_t>(r.jobs)) {
      r.complete = true;
      r.failed = failed - base_failed;
      break;
    }
    if (finished != last_finished) {
      last_finished = finished;
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > std::chrono::milliseconds(kStallMs)) {
      r.error = "stalled: " + std::to_string(static_cast<int64_t>(r.jobs) - finished) + " of " +
                std::to_string(r.jobs) + " jobs not finished after " + std::to_string(kStallMs / 1000) +
                " s without progress (stuck RUNNING? see `titan stats`)";
      break;
    }
    if (last_done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  r.seconds = SecondsBetween(t0, Clock::now());
  if (!r.complete && r.error.empty())
    r.error = "not all jobs finished within " + std::to_string(timeout_s) + " s";
  return r;
}

}  // namespace titan::bench
