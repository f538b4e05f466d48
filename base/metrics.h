// Metrics a node keeps for Prometheus (docs/observability.md), and the METRICS reply built from them.
// Plain integers with no clock inside: a pure core counts with the Instants it is handed, the loop
// observes the durations it measured itself. Single-threaded, like the loop that owns them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/generated/messages.h"

namespace titan::metrics {

// Microseconds of CLOCK_MONOTONIC, for the loops to time what they record here (a commit, a batch); the
// cores never call it.
inline int64_t MonoUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Upper bounds of a histogram's buckets, ascending, in the family's units. Must outlive the histogram
// (a static constexpr array).
using Bounds = std::span<const int64_t>;

// Milliseconds from 5 ms to 1 h: how long jobs wait and run.
inline constexpr int64_t kJobMsBounds[] = {5,     10,     25,     50,     100,     250,
                                           500,   1000,   2500,   5000,   10000,   30000,
                                           60000, 120000, 300000, 600000, 1800000, 3600000};
// Microseconds from 50 us to 5 s: a commit (one fsync), a request's time in its batch.
inline constexpr int64_t kLatencyUsBounds[] = {50,     100,     250,     500,    1000,   2500,
                                               5000,   10000,   25000,   50000,  100000, 250000,
                                               500000, 1000000, 2500000, 5000000};
// Rows or requests in one commit.
inline constexpr int64_t kBatchBounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};

// The label value that stands for every value past a LabelBound's limit.
inline constexpr std::string_view kOtherLabel = "other";

// A name as a label value, in lower case: COMPLETED -> completed, STORE_PUT -> store_put.
std::string LowerLabel(std::string_view name);

// Observations counted in fixed buckets, with their sum (Prometheus's histogram). A negative value
// counts as 0 (a duration across a wall clock set back).
class Histogram {
 public:
  explicit Histogram(Bounds bounds);
  void Observe(int64_t value);
  int64_t count() const { return count_; }
  int64_t sum() const { return sum_; }
  // The sample Prometheus reads: cumulative buckets, one per bound.
  wire::MetricSample Sample(std::vector<std::string> labels) const;

 private:
  Bounds bounds_;
  std::vector<int64_t> in_bucket_;  // observations in (bounds[i-1], bounds[i]]; the last: above every bound
  int64_t count_ = 0;
  int64_t sum_ = 0;
};

// Keeps a label's values to a bounded set: the first `max` distinct values are themselves, any later
// one is kOtherLabel. A user-chosen string (a job's requirement) can then never grow a family without
// bound.
class LabelBound {
 public:
  explicit LabelBound(size_t max) : max_(max) {}
  std::string Admit(std::string_view value);

 private:
  size_t max_;
  std::set<std::string, std::less<>> seen_;
};

// Counters by label values (in the family's label order).
class CounterVec {
 public:
  void Add(const std::vector<std::string>& labels, int64_t n = 1) { values_[labels] += n; }
  int64_t Get(const std::vector<std::string>& labels) const;
  const std::map<std::vector<std::string>, int64_t>& values() const { return values_; }

 private:
  std::map<std::vector<std::string>, int64_t> values_;
};

// Histograms by label values, all with the same bounds.
class HistogramVec {
 public:
  explicit HistogramVec(Bounds bounds) : bounds_(bounds) {}
  void Observe(const std::vector<std::string>& labels, int64_t value);
  const std::map<std::vector<std::string>, Histogram>& values() const { return values_; }

 private:
  Bounds bounds_;
  std::map<std::vector<std::string>, Histogram> values_;
};

// What every server node counts at its sockets (the loop keeps them; the METRICS reply shows them).
struct NodeCounters {
  int64_t malformed_clients = 0;   // client requests that did not decode (answered MALFORMED & co)
  int64_t malformed_workers = 0;   // worker messages that did not decode (the broker only)
  int64_t forbidden = 0;           // requests refused for the sender's role (FORBIDDEN)
  int64_t handshakes_refused = 0;  // connections refused at the handshake (unknown or revoked key)
  int64_t undeliverable = 0;       // replies and messages dropped: the peer was gone or its queue full
  bool read_only = false;          // the node's disk is full: it refuses writes
  int64_t start_wall_ms = 0;       // when the node started: counters count from then
};

// The families of one METRICS reply, in the order added. `scale`: the values are in 1/scale of the
// metric's unit (a _seconds histogram kept in ms has scale 1000).
class FamilyList {
 public:
  using Samples = std::vector<std::pair<std::vector<std::string>, int64_t>>;

  void Counter(std::string name, std::string help, std::vector<std::string> labels, const CounterVec& values);
  void Counter(std::string name, std::string help, std::vector<std::string> labels, const Samples& samples);
  void Counter(std::string name, std::string help, int64_t value);
  void Gauge(std::string name, std::string help, std::vector<std::string> labels, const Samples& samples,
             int64_t scale = 1);
  void Gauge(std::string name, std::string help, int64_t value, int64_t scale = 1);
  void Histogram(std::string name, std::string help, std::vector<std::string> labels,
                 const HistogramVec& values, int64_t scale = 1);
  void Histogram(std::string name, std::string help, const metrics::Histogram& value, int64_t scale = 1);
  // The families of NodeCounters, with label node="<node>" (the broker's and the store's share names).
  // `worker_port`: the node has one (malformed messages are counted per port).
  void Node(std::string_view node, const NodeCounters& c, bool worker_port);

  std::vector<wire::MetricFamily> Take() { return std::move(families_); }

 private:
  wire::MetricFamily& Add(std::string name, const char* type, std::string help,
                          std::vector<std::string> labels, int64_t scale);
  std::vector<wire::MetricFamily> families_;
};

// "w1:2/4 ..." style rendering for tests: "name{a,b} value" per sample, one per line, in order.
std::string Render(const std::vector<wire::MetricFamily>& families);

}  // namespace titan::metrics
