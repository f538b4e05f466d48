// Counters, histograms, bounded labels and the METRICS reply's families (see metrics.h).
#include "base/metrics.h"

#include <algorithm>
#include <cctype>

namespace titan::metrics {

std::string LowerLabel(std::string_view name) {
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

Histogram::Histogram(Bounds bounds) : bounds_(bounds), in_bucket_(bounds.size() + 1, 0) {}

void Histogram::Observe(int64_t value) {
  value = std::max<int64_t>(value, 0);
  const auto at = std::lower_bound(bounds_.begin(), bounds_.end(), value);  // the first bound >= value
  ++in_bucket_[static_cast<size_t>(at - bounds_.begin())];
  ++count_;
  sum_ += value;
}

wire::MetricSample Histogram::Sample(std::vector<std::string> labels) const {
  wire::MetricSample s{.labels = std::move(labels), .value = sum_, .count = count_};
  std::vector<wire::MetricBucket> buckets;
  buckets.reserve(bounds_.size());
  int64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += in_bucket_[i];
    buckets.push_back(wire::MetricBucket{.le = bounds_[i], .count = cumulative});
  }
  s.buckets = std::move(buckets);
  return s;
}

std::string LabelBound::Admit(std::string_view value) {
  if (seen_.find(value) != seen_.end()) return std::string(value);
  if (seen_.size() >= max_) return std::string(kOtherLabel);
  return *seen_.emplace(value).first;
}

int64_t CounterVec::Get(const std::vector<std::string>& labels) const {
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void HistogramVec::Observe(const std::vector<std::string>& labels, int64_t value) {
  auto it = values_.find(labels);
  if (it == values_.end()) it = values_.emplace(labels, Histogram(bounds_)).first;
  it->second.Observe(value);
}

wire::MetricFamily& FamilyList::Add(std::string name, const char* type, std::string help,
                                    std::vector<std::string> labels, int64_t scale) {
  wire::MetricFamily& f = families_.emplace_back();
  f.name = std::move(name);
  f.type = type;
  f.help = std::move(help);
  f.labels = std::move(labels);
  if (scale != 1) f.scale = scale;
  return f;
}

void FamilyList::Counter(std::string name, std::string help, std::vector<std::string> labels,
                         const CounterVec& values) {
  wire::MetricFamily& f = Add(std::move(name), "counter", std::move(help), std::move(labels), 1);
  for (const auto& [label_values, n] : values.values())
    f.samples.push_back({.labels = label_values, .value = n});
}

void FamilyList::Counter(std::string name, std::string help, int64_t value) {
  Add(std::move(name), "counter", std::move(help), {}, 1).samples.push_back({.value = value});
}

void FamilyList::Counter(std::string name, std::string help, std::vector<std::string> labels,
                         const Samples& samples) {
  wire::MetricFamily& f = Add(std::move(name), "counter", std::move(help), std::move(labels), 1);
  for (const auto& [label_values, v] : samples) f.samples.push_back({.labels = label_values, .value = v});
}

void FamilyList::Gauge(std::string name, std::string help, std::vector<std::string> labels,
                       const Samples& samples, int64_t scale) {
  wire::MetricFamily& f = Add(std::move(name), "gauge", std::move(help), std::move(labels), scale);
  for (const auto& [label_values, v] : samples) f.samples.push_back({.labels = label_values, .value = v});
}

void FamilyList::Gauge(std::string name, std::string help, int64_t value, int64_t scale) {
  Add(std::move(name), "gauge", std::move(help), {}, scale).samples.push_back({.value = value});
}

void FamilyList::Histogram(std::string name, std::string help, std::vector<std::string> labels,
                           const HistogramVec& values, int64_t scale) {
  wire::MetricFamily& f = Add(std::move(name), "histogram", std::move(help), std::move(labels), scale);
  for (const auto& [label_values, h] : values.values()) f.samples.push_back(h.Sample(label_values));
}

void FamilyList::Histogram(std::string name, std::string help, const metrics::Histogram& value,
                           int64_t scale) {
  Add(std::move(name), "histogram", std::move(help), {}, scale).samples.push_back(value.Sample({}));
}

void FamilyList::Node(std::string_view node, const NodeCounters& c, bool worker_port) {
  const std::string n(node);
  Samples malformed{{{n, "client"}, c.malformed_clients}};
  if (worker_port) malformed.push_back({{n, "worker"}, c.malformed_workers});
  Counter("titan_malformed_messages_total",
          "Messages that did not decode (answered MALFORMED or dropped), by port.", {"node", "port"},
          malformed);
  Counter("titan_auth_failures_total",
          "Requests refused for the sender's role (forbidden) and connections refused at the CURVE handshake "
          "(handshake).",
          {"node", "reason"},
          Samples{{{n, "forbidden"}, c.forbidden}, {{n, "handshake"}, c.handshakes_refused}});
  Counter("titan_undeliverable_messages_total",
          "Replies and messages dropped because the peer was gone or its queue was full.", {"node"},
          Samples{{{n}, c.undeliverable}});
  Gauge("titan_read_only", "1 while the node's disk is full: it refuses writes and serves reads.", {"node"},
        Samples{{{n}, c.read_only ? 1 : 0}});
  Gauge("titan_node_start_time_seconds", "When the node started (Unix epoch): its counters count from then.",
        {"node"}, Samples{{{n}, c.start_wall_ms}}, 1000);
}

std::string Render(const std::vector<wire::MetricFamily>& families) {
  std::string out;
  for (const wire::MetricFamily& f : families) {
    for (const wire::MetricSample& s : f.samples) {
      out += f.name;
      if (!s.labels.empty()) {
        out += "{";
        for (size_t i = 0; i < s.labels.size(); ++i) out += (i ? "," : "") + s.labels[i];
        out += "}";
      }
      out += " " + std::to_string(s.value);
      if (s.count) out += " count=" + std::to_string(*s.count);
      out += "\n";
    }
  }
  return out;
}

}  // namespace titan::metrics
