// What TitanStore counts for Prometheus (docs/observability.md): requests by type and how they were
// answered, how long each waited in its batch for its reply (the commit included), each commit's
// duration and batch size, and its socket's refusals. The loop (store_node.cc) measures and records;
// nothing here reads a clock. Counters start from 0 when the store starts.
#pragma once

#include <cstdint>
#include <optional>

#include "base/metrics.h"
#include "schemas/cpp/codec.h"

namespace titan::store {

class StoreMetrics {
 public:
  // A decoded request of type `type`, answered `error` (an ERROR reply) or not, `us` microseconds after
  // its batch began.
  void Request(wire::MsgType type, bool error, int64_t us);
  // A batch of `requests`; `commit_us`: how long its commit took, when it committed (one fsync).
  void Batch(int64_t requests, std::optional<int64_t> commit_us);
  metrics::NodeCounters& node() { return node_; }

  int64_t requests() const { return requests_; }  // decoded requests so far
  int64_t errors() const { return errors_; }      // of those, answered ERROR
  int64_t batches() const { return batch_size_.count(); }

  // The METRICS reply.
  wire::Message Reply() const;

 private:
  metrics::CounterVec by_type_;                               // op, result
  metrics::HistogramVec latency_{metrics::kLatencyUsBounds};  // op
  metrics::Histogram commit_us_{metrics::kLatencyUsBounds};
  metrics::Histogram batch_size_{metrics::kBatchBounds};
  metrics::NodeCounters node_;
  int64_t requests_ = 0, errors_ = 0;
};

}  // namespace titan::store
