// Log copying and following: JOB_LOGS for what is there, the PUB feed for what comes next.
#include "cli/log_follow.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string_view>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cli/job_view.h"
#include "schemas/cpp/transport.h"

namespace titan::cli {
namespace {

constexpr int64_t kChunkBytes = 1 << 20;
// With nothing on the feed for this long, ask the broker directly (a subscription that was not yet
// active when an event was published must not leave us waiting forever).
constexpr int kQuietCheckMs = 2000;
constexpr int kWaitSliceMs = 1000;  // the JOB_WAIT timeout of the fallback without a PUB socket

// The write side: tracks how far the log has been written so every byte goes out exactly once.
class LogSink {
 public:
  LogSink(BrokerClient& broker, std::string id, std::FILE* out)
      : broker_(broker), id_(std::move(id)), out_(out) {}
  BrokerClient& broker() { return broker_; }

  // JOB_LOGS from the current offset until caught up; *complete when the broker says the log has ended.
  int CatchUp(bool* complete) {
    for (;;) {
      wire::JobLogDataMsg reply;
      const wire::JobLogsMsg request{.id = id_, .offset = offset_, .max_bytes = kChunkBytes};
      if (const int rc = broker_.Call(request.ToMessage(), &reply); rc != kExitOk) return rc;
      const std::string_view bytes =
          reply.blobs.empty() ? std::string_view() : std::string_view(reply.blobs[0]);
      Offer(reply.offset, bytes);
      offset_ = std::max(offset_, reply.next_offset);
      *complete = reply.complete;
      if (bytes.empty() || *complete) return kExitOk;
    }
  }

  // Writes the part of bytes-at-`offset` not written yet. False when it starts past what was written
  // (a gap: the caller fetches the missing part with CatchUp).
  bool Offer(int64_t offset, std::string_view bytes) {
    if (offset > offset_) return false;
    const int64_t end = offset + static_cast<int64_t>(bytes.size());
    if (end <= offset_) return true;  // already written
    const std::string_view fresh = bytes.substr(static_cast<size_t>(offset_ - offset));
    std::fwrite(fresh.data(), 1, fresh.size(), out_);
    std::fflush(out_);
    offset_ = end;
    return true;
  }

 private:
  BrokerClient& broker_;
  std::string id_;
  std::FILE* out_;
  int64_t offset_ = 0;
};

// Without an event feed: JOB_LOGS after every JOB_WAIT slice (which returns early once the job ends).
int FollowByWaiting(BrokerClient& broker, LogSink& sink, const std::string& id) {
  for (;;) {
    bool complete = false;
    if (const int rc = sink.CatchUp(&complete); rc != kExitOk || complete) return rc;
    wire::JobInfoMsg reply;
    const int rc = broker.Call(wire::JobWaitMsg{.id = id, .timeout_ms = kWaitSliceMs}.ToMessage(), &reply,
                               kWaitSliceMs + broker.target().timeout_ms);
    if (rc != kExitOk) return rc;
  }
}

// One message from the feed: writes new log bytes, reports job events, and sets *complete once the
// broker says the log has ended. Returns an exit code (errors printed).
int HandleEvent(const zmq::multipart_t& frames, const std::string& id, LogSink& sink,
                const JobEventFn& on_job_event, bool* complete) {
  const std::string topic = frames[0].to_string();
  if (topic != "log." + id && topic != "job." + id) return kExitOk;  // a prefix match: "log.a" gets "log.ab"
  std::vector<std::string_view> payload;
  for (size_t i = 1; i < frames.size(); ++i) payload.push_back(frames[i].to_string_view());
  wire::Decoded d = wire::Decode(std::span<const std::string_view>(payload));
  if (d.status != wire::DecodeStatus::kOk) return kExitOk;  // not ours to judge; the log is refetched anyway
  if (const Result<wire::EventLogMsg> log = wire::EventLogMsg::From(d.msg); log.ok()) {
    const std::vector<std::string>& blobs = log.value().blobs;
    const std::string_view bytes = blobs.empty() ? std::string_view() : std::string_view(blobs[0]);
    if (!sink.Offer(log.value().offset, bytes)) return sink.CatchUp(complete);
    return kExitOk;
  }
  const Result<wire::EventJobMsg> event = wire::EventJobMsg::From(d.msg);
  if (!event.ok()) return kExitOk;  // another event type
  if (on_job_event) on_job_event(event.value());
  return IsFinalState(event.value().state) ? sink.CatchUp(complete) : kExitOk;
}

int FollowFeed(LogSink& sink, const std::string& id, const std::string& pub, const JobEventFn& on_job_event) {
  zmq::context_t ctx{1};
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  wire::ConfigureSocket(sub);
  sub.set(zmq::sockopt::linger, 0);
  sink.broker().SecureSubscriber(sub);
  sub.set(zmq::sockopt::subscribe, "log." + id);
  sub.set(zmq::sockopt::subscribe, "job." + id);
  sub.connect(pub);
  // Subscribe first, then fetch what is there: events from here on overlap the fetch, not miss it.
  bool complete = false;
  if (const int rc = sink.CatchUp(&complete); rc != kExitOk || complete) return rc;
  for (;;) {
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(kQuietCheckMs)) == 0) {
      if (const int rc = sink.CatchUp(&complete); rc != kExitOk || complete) return rc;
      continue;
    }
    zmq::multipart_t frames;
    if (!frames.recv(sub) || frames.size() < 2) continue;
    if (const int rc = HandleEvent(frames, id, sink, on_job_event, &complete); rc != kExitOk || complete)
      return rc;
  }
}

// JOB_LOGS once: up to `max` bytes of the log from `offset` in *bytes (empty past its end).
int ReadLog(BrokerClient& broker, const std::string& id, int64_t offset, int64_t max, std::string* bytes) {
  wire::JobLogDataMsg reply;
  const int rc =
      broker.Call(wire::JobLogsMsg{.id = id, .offset = offset, .max_bytes = max}.ToMessage(), &reply);
  if (rc != kExitOk) return rc;
  *bytes = reply.blobs.empty() ? std::string() : std::move(reply.blobs[0]);
  return kExitOk;
}

}  // namespace

int ReadLogTail(BrokerClient& broker, const std::string& id, size_t max_bytes, std::string* tail) {
  const int64_t window = static_cast<int64_t>(std::max<size_t>(max_bytes, 1));
  std::string probe;
  // The log has `size` bytes; keep lo <= size <= hi, first by doubling hi, then by halving the range.
  int64_t lo = 0, hi = window;
  for (;;) {
    if (const int rc = ReadLog(broker, id, hi, 1, &probe); rc != kExitOk) return rc;
    if (probe.empty()) break;
    lo = hi + 1;
    hi *= 2;
  }
  while (hi - lo > window) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (const int rc = ReadLog(broker, id, mid, 1, &probe); rc != kExitOk) return rc;
    if (probe.empty()) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  int64_t offset = std::max<int64_t>(0, lo - window);
  const bool from_start = offset == 0;
  tail->clear();
  for (;;) {
    std::string chunk;
    if (const int rc = ReadLog(broker, id, offset, kChunkBytes, &chunk); rc != kExitOk) return rc;
    if (chunk.empty()) break;
    offset += static_cast<int64_t>(chunk.size());
    *tail += chunk;
  }
  const bool cut = !from_start || tail->size() > max_bytes;
  if (tail->size() > max_bytes) tail->erase(0, tail->size() - max_bytes);
  if (cut) {  // the first line may have lost its start: drop it
    const size_t nl = tail->find('\n');
    if (nl != std::string::npos && nl + 1 < tail->size()) tail->erase(0, nl + 1);
  }
  return kExitOk;
}

int CopyJobLog(BrokerClient& broker, const std::string& id, bool follow, std::FILE* out,
               const JobEventFn& on_job_event) {
  LogSink sink(broker, id, out);
  if (!follow) {
    bool complete = false;
    return sink.CatchUp(&complete);
  }
  std::string pub;
  if (const int rc = broker.PubEndpoint(&pub); rc == kExitNoAnswer) return rc;
  if (pub.empty()) {
    std::cerr << "titan: following by polling instead\n";
    return FollowByWaiting(broker, sink, id);
  }
  try {
    return FollowFeed(sink, id, pub, on_job_event);
  } catch (const zmq::error_t& e) {
    std::cerr << "titan: event feed " << pub << ": " << e.what() << "; following by polling instead\n";
    return FollowByWaiting(broker, sink, id);
  }
}

}  // namespace titan::cli
