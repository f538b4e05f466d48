// Discovery, registration, heartbeats and reconnect with backoff.
#include "worker/broker_link.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/backoff.h"
#include "schemas/cpp/transport.h"

namespace titan::worker {

namespace {
// Beats of broker silence before reconnecting. Larger than the broker's 3 on purpose: reconnecting
// is costly and a busy broker (a huge submission) may be silent a while; a broker that restarted on
// the same ports answers the next heartbeat with DISCONNECT, so re-joining it does not wait for this.
constexpr int kLiveness = 10;
constexpr int64_t kFirstBackoffMs = 250;
constexpr int64_t kMaxBackoffMs = 5000;

std::unique_ptr<zmq::socket_t> Dealer(zmq::context_t& ctx, const std::string& endpoint) {
  auto s = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
  wire::ConfigureSocket(*s);
  s->set(zmq::sockopt::linger, 0);
  s->set(zmq::sockopt::sndhwm, 1000);  // bounds output buffered for a slow broker (backpressure)
  s->connect(endpoint);
  return s;
}
}  // namespace

BrokerLink::BrokerLink(zmq::context_t& ctx, std::string host, int port, int heartbeat_ms,
                       std::function<wire::Message()> make_ready)
    : ctx_(ctx),
      host_(std::move(host)),
      port_(port),
      heartbeat_ms_(heartbeat_ms),
      make_ready_(std::move(make_ready)) {}

void BrokerLink::StartDiscovery(int64_t now) {
  state_ = State::kDiscovering;
  worker_.reset();
  hello_ = Dealer(ctx_, "tcp://" + host_ + ":" + std::to_string(port_));
  wire::SendRequest(
      *hello_, wire::MakeMessage(wire::MsgType::kHello).Set("client", wire::Datum(wire::Text{"worker"})));
  hello_deadline_ = now + std::max<int64_t>(Backoff(), 1000);
}

size_t BrokerLink::AddPollItems(zmq::pollitem_t* items, bool want_out) {
  size_t n = 0;
  if (hello_) items[n++] = {hello_->handle(), 0, ZMQ_POLLIN, 0};
  if (worker_)
    items[n++] = {worker_->handle(), 0, static_cast<short>(ZMQ_POLLIN | (want_out ? ZMQ_POLLOUT : 0)), 0};
  return n;
}

std::vector<wire::Message> BrokerLink::Receive(Instant at) {
  const int64_t now = at.mono_ms;
  std::vector<wire::Message> out;
  if (hello_ && (hello_->get(zmq::sockopt::events) & ZMQ_POLLIN)) {
    wire::Decoded d = wire::RecvReply(*hello_);
    if (d.status == wire::DecodeStatus::kOk && d.msg.type == wire::MsgType::kWelcome &&
        d.msg.Has("worker_port")) {
      const std::string endpoint = "tcp://" + host_ + ":" + std::to_string(d.msg.Int("worker_port"));
      hello_.reset();
      worker_ = Dealer(ctx_, endpoint);
      state_ = State::kRegistering;
      last_heard_ = now;
      next_heartbeat_ = now + heartbeat_ms_;
      wire::SendMessage(*worker_, make_ready_());
    } else {
      spdlog::error("worker: {}:{} is not a Titan broker ({}); retrying", host_, port_,
                    d.status == wire::DecodeStatus::kOk ? std::string(wire::NameOf(d.msg.type)) : d.reason);
    }
  }
  for (int i = 0; i < 1000 && worker_ && (worker_->get(zmq::sockopt::events) & ZMQ_POLLIN); ++i) {
    wire::Decoded d = wire::RecvReply(*worker_);
    last_heard_ = now;
    if (d.status != wire::DecodeStatus::kOk) {
      spdlog::warn("worker: undecodable message from the broker: {}", d.reason);
      continue;
    }
    if (d.msg.type == wire::MsgType::kWorkerWelcome) {
      if (state_ != State::kReady) unanswered_ = 0;
      if (d.msg.Int("heartbeat_ms") > 0)
        heartbeat_ms_ = static_cast<int>(d.msg.Int("heartbeat_ms"));  // the broker's beat
      state_ = State::kReady;
      if (d.msg.Has("store_port")) store_port_ = static_cast<int>(d.msg.Int("store_port"));
    }
    if (d.msg.type == wire::MsgType::kHeartbeat) continue;
    out.push_back(std::move(d.msg));
  }
  return out;
}

int64_t BrokerLink::Backoff() const { return BackoffMs(unanswered_ + 1, kFirstBackoffMs, kMaxBackoffMs); }

int64_t BrokerLink::Tick(Instant at, int64_t busy, bool draining) {
  const int64_t now = at.mono_ms;
  if (!hello_ && !worker_) StartDiscovery(now);
  if (state_ == State::kDiscovering) {
    if (now >= hello_deadline_) {
      ++unanswered_;
      spdlog::warn("worker: no answer from a broker at {}:{}; retrying in {} ms", host_, port_, Backoff());
      StartDiscovery(now);
    }
    return hello_deadline_;
  }
  if (now - last_heard_ > static_cast<int64_t>(heartbeat_ms_) * kLiveness) {
    spdlog::warn("worker: the broker is silent for {} ms; reconnecting", now - last_heard_);
    StartDiscovery(now);
    return hello_deadline_;
  }
  if (now >= next_heartbeat_) {
    wire::Message hb = wire::MakeMessage(wire::MsgType::kHeartbeat).Set("busy", wire::Datum(busy));
    if (draining) hb.Set("draining", wire::Datum(true));
    Send(hb);
    next_heartbeat_ = now + heartbeat_ms_;
  }
  return std::min(next_heartbeat_, last_heard_ + static_cast<int64_t>(heartbeat_ms_) * kLiveness + 1);
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

void BrokerLink::Reregister(Instant now) {
  if (!worker_) return;
  state_ = State::kRegistering;
  last_heard_ = now.mono_ms;
  Send(make_ready_());
}

}  // namespace titan::worker
