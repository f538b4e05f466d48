// Discovery, registration, heartbeats and reconnect with backoff.
#include "worker/broker_link.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "base/backoff.h"
#include "schemas/cpp/transport.h"

namespace titan::worker {

namespace {
// Beats of broker silence before reconnecting: reconnecting is costly and a busy broker (a huge
// submission) may be silent a while; a broker that restarted on the same ports answers the next
// heartbeat with DISCONNECT, so re-joining it does not wait for this. With a fencing lease the link
// reconnects after half of it (never before 3 beats), so that a broker restarted on other ports is
// found again before the lease runs out (SilenceLimitMs).
constexpr int kLiveness = 10;
constexpr int kMinLiveness = 3;
constexpr int64_t kFirstBackoffMs = 250;
constexpr int64_t kMaxBackoffMs = 5000;

std::unique_ptr<zmq::socket_t> Dealer(zmq::context_t& ctx,
                                      const std::optional<security::Credential>& credential) {
  auto s = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
  wire::ConfigureSocket(*s);
  if (credential) security::SecureClient(*s, *credential);
  s->set(zmq::sockopt::linger, 0);
  s->set(zmq::sockopt::sndhwm, 1000);  // bounds output buffered for a slow broker (backpressure)
  return s;
}
}  // namespace

BrokerLink::BrokerLink(zmq::context_t& ctx, std::string host, int port, int heartbeat_ms,
                       std::function<wire::WorkerReadyMsg()> make_ready,
                       std::optional<security::Credential> credential)
    : ctx_(ctx),
      host_(std::move(host)),
      port_(port),
      heartbeat_ms_(heartbeat_ms),
      make_ready_(std::move(make_ready)),
      credential_(std::move(credential)) {
  if (Result<BrokerAddresses> list = BrokerAddresses::Parse(host_, port_); list.ok()) {
    addresses_ = std::move(*list);
    UseCurrentAddress();
  }
}

void BrokerLink::UseCurrentAddress() {
  host_ = addresses_->current().host;
  port_ = addresses_->current().port;
}

std::unique_ptr<zmq::socket_t> BrokerLink::Open(const std::string& endpoint) {
  watch_.reset();  // before the socket it watches
  hello_.reset();
  worker_.reset();
  auto s = Dealer(ctx_, credential_);
  watch_ = std::make_unique<security::HandshakeWatch>(ctx_, *s);
  endpoint_ = endpoint;
  s->connect(endpoint);
  return s;
}

void BrokerLink::StartDiscovery(int64_t now) {
  state_ = State::kDiscovering;
  hello_ = Open("tcp://" + BrokerAddress{host_, port_}.ToString());
  wire::SendRequest(*hello_, wire::HelloMsg{.client = "worker"}.ToMessage());
  hello_deadline_ = now + std::max<int64_t>(Backoff(), 1000);
}

size_t BrokerLink::AddPollItems(zmq::pollitem_t* items, bool want_out) {
  size_t n = 0;
  if (hello_) items[n++] = {hello_->handle(), 0, ZMQ_POLLIN, 0};
  if (worker_)
    items[n++] = {worker_->handle(), 0, static_cast<short>(ZMQ_POLLIN | (want_out ? ZMQ_POLLOUT : 0)), 0};
  if (watch_) items[n++] = watch_->PollItem();
  return n;
}

void BrokerLink::OnRefused(const std::string& failure, int64_t now) {
  if (credential_) {
    if (std::optional<security::Credential> fresh = security::Reread(*credential_)) {
      spdlog::warn("worker: {}; the credential file {} changed: reconnecting with it", failure, fresh->path);
      if (fresh->server_key != credential_->server_key) new_server_key_ = fresh->server_key;
      credential_ = std::move(*fresh);
      StartDiscovery(now);
      return;
    }
  }
  if (!refused_) spdlog::error("worker: {} (retrying; a changed credential file is read again)", failure);
  refused_ = true;
  refusal_ = failure;
}

std::optional<std::string> BrokerLink::TakeNewServerKey() {
  return std::exchange(new_server_key_, std::nullopt);
}

bool BrokerLink::OnNotLeader(const wire::Decoded& d, int64_t now) {
  const Result<wire::ErrorMsg> refusal = wire::ErrorMsg::From(d.msg);
  if (!refusal.ok() || refusal->code != wire::ErrorCodeName(wire::ErrorCode::kNotLeader)) return false;
  if (!addresses_ || !addresses_->NotLeader(refusal->leader.value_or(""))) {
    return true;  // nowhere else to go: HELLO again when its deadline passes
  }
  spdlog::info("worker: {}:{} is a standby broker ({}); trying {}", host_, port_, refusal->reason,
               addresses_->current().ToString());
  UseCurrentAddress();
  StartDiscovery(now);
  return true;
}

// Connects the worker socket to the port WELCOME names and registers; anything else is not a broker.
void BrokerLink::OnWelcome(const wire::Decoded& d, int64_t now) {
  if (d.status == wire::DecodeStatus::kOk && d.msg.type == wire::MsgType::kError && OnNotLeader(d, now))
    return;
  std::optional<int64_t> worker_port;
  if (d.status == wire::DecodeStatus::kOk) {
    if (Result<wire::WelcomeMsg> welcome = wire::WelcomeMsg::From(d.msg); welcome.ok()) {
      worker_port = welcome->worker_port;
    }
  }
  if (!worker_port) {
    spdlog::error("worker: {}:{} is not a Titan broker ({}); retrying", host_, port_,
                  d.status == wire::DecodeStatus::kOk ? std::string(wire::NameOf(d.msg.type)) : d.reason);
    return;
  }
  worker_ = Open("tcp://" + BrokerAddress{host_, static_cast<int>(*worker_port)}.ToString());
  state_ = State::kRegistering;
  last_heard_ = now;
  next_heartbeat_ = now + heartbeat_ms_;
  wire::SendMessage(*worker_, make_ready_().ToMessage());
}

void BrokerLink::OnWorkerWelcome(const wire::WorkerWelcomeMsg& welcome) {
  if (state_ != State::kReady) unanswered_ = 0;
  refused_ = false;
  if (welcome.heartbeat_ms > 0) heartbeat_ms_ = static_cast<int>(welcome.heartbeat_ms);  // the broker's beat
  state_ = State::kReady;
  if (welcome.store_port) store_port_ = static_cast<int>(*welcome.store_port);
  lease_ms_ = welcome.lease_ms.value_or(0);
}

std::vector<Inbound> BrokerLink::Receive(Instant at) {
  const int64_t now = at.mono_ms;
  std::vector<Inbound> out;
  if (watch_) {
    const std::string who =
        credential_ ? "principal '" + credential_->principal + "' (" + credential_->path + ")" : "";
    if (std::optional<std::string> failure = watch_->TakeFailure(endpoint_, who)) OnRefused(*failure, now);
  }
  if (hello_ && (hello_->get(zmq::sockopt::events) & ZMQ_POLLIN)) OnWelcome(wire::RecvReply(*hello_), now);
  for (int i = 0; i < 1000 && worker_ && (worker_->get(zmq::sockopt::events) & ZMQ_POLLIN); ++i) {
    wire::Decoded d = wire::RecvReply(*worker_);
    last_heard_ = now;
    heard_ = true;
    if (d.status != wire::DecodeStatus::kOk) {
      spdlog::warn("worker: undecodable message from the broker: {}", d.reason);
      continue;
    }
    if (d.msg.type == wire::MsgType::kWorkerWelcome) {
      const Result<wire::WorkerWelcomeMsg> welcome = wire::WorkerWelcomeMsg::From(d.msg);
      if (!welcome.ok()) {
        spdlog::warn("worker: dropping a malformed WORKER_WELCOME: {}", welcome.message());
        continue;
      }
      OnWorkerWelcome(welcome.value());
    }
    if (d.msg.type == wire::MsgType::kHeartbeat) continue;
    out.push_back(Inbound{std::move(d.msg), d.rid});
  }
  return out;
}

int64_t BrokerLink::Backoff() const { return BackoffMs(unanswered_ + 1, kFirstBackoffMs, kMaxBackoffMs); }

int64_t BrokerLink::Tick(Instant at, const std::function<wire::HeartbeatMsg()>& heartbeat) {
  const int64_t now = at.mono_ms;
  if (!hello_ && !worker_) StartDiscovery(now);
  if (state_ == State::kDiscovering) {
    if (now >= hello_deadline_) {
      ++unanswered_;
      if (refused_) {  // it answers: it refuses this worker's key (the handshake fails before any reply)
        spdlog::warn("worker: still refused by the broker at {}:{} ({}); retrying in {} ms", host_, port_,
                     refusal_, Backoff());
      } else {
        spdlog::warn("worker: no answer from a broker at {}:{}; retrying in {} ms", host_, port_, Backoff());
      }
      if (addresses_ && addresses_->size() > 1) {  // on to the next broker
        addresses_->NoAnswer();
        UseCurrentAddress();
        spdlog::info("worker: trying the broker at {}:{}", host_, port_);
      }
      StartDiscovery(now);
    }
    return hello_deadline_;
  }
  if (now - last_heard_ > SilenceLimitMs()) {
    spdlog::warn("worker: the broker is silent for {} ms; reconnecting", now - last_heard_);
    StartDiscovery(now);
    return hello_deadline_;
  }
  if (now >= next_heartbeat_) {
    Send(heartbeat().ToMessage());
    next_heartbeat_ = now + heartbeat_ms_;
  }
  return std::min(next_heartbeat_, last_heard_ + SilenceLimitMs() + 1);
}

int64_t BrokerLink::SilenceLimitMs() const {
  const int64_t most = static_cast<int64_t>(heartbeat_ms_) * kLiveness;
  if (lease_ms_ <= 0) return most;
  return std::clamp<int64_t>(lease_ms_ / 2, static_cast<int64_t>(heartbeat_ms_) * kMinLiveness, most);
}

bool BrokerLink::Writable() { return worker_ && (worker_->get(zmq::sockopt::events) & ZMQ_POLLOUT); }

bool BrokerLink::Send(const wire::Message& msg) {
  if (!worker_) return false;
  try {
    return wire::SendMessage(*worker_, msg);
  } catch (const zmq::error_t&) {
    return false;
  }
}

void BrokerLink::Reregister(Instant now, bool hold) {
  if (!worker_) return;  // discovering: the registration follows the broker's WELCOME
  if (hold) {
    state_ = State::kRegistering;
    last_heard_ = now.mono_ms;
  }
  Send(make_ready_().ToMessage());
}

}  // namespace titan::worker
