// What the broker counts for Prometheus (docs/observability.md). BrokerCore keeps the job counters as
// jobs move, with the wall times of the Instants it is handed (core_metrics.cc); the broker loop keeps
// what only it sees (how long a commit took, its sockets' refusals). BrokerCore::Metrics renders both,
// with the gauges of its state, into a METRICS reply. Counters start from 0 when the broker starts.
#pragma once

#include <cstdint>
#include <optional>

#include "base/metrics.h"

namespace titan::broker {

struct BrokerMetrics {
  // Distinct requirement tags with a label value of their own; later ones are counted as "other".
  static constexpr size_t kMaxCapabilities = 32;
  metrics::LabelBound capabilities{kMaxCapabilities};

  // Kept by BrokerCore.
  metrics::CounterVec submitted;                            // capability, kind
  metrics::CounterVec finished;                             // outcome, capability, kind
  metrics::HistogramVec queue_wait{metrics::kJobMsBounds};  // capability: submission to first start, ms
  metrics::HistogramVec run_time{metrics::kJobMsBounds};    // capability: an attempt's start to its end, ms
  int64_t workers_lost = 0;
  int64_t log_bytes = 0;           // job output received from workers and stored
  int64_t artifact_bytes_in = 0;   // upload chunks accepted
  int64_t artifact_bytes_out = 0;  // content read by clients and workers
  // Worker reports refused for an older lease epoch than their attempt's (reconcile.h, OlderEpoch).
  int64_t stale_epoch_results = 0;
  // JOB_SUBMIT / DAG_RERUN requests answered again by their token, submitting nothing (core_tokens.cc).
  int64_t submissions_replayed = 0;

  // Kept by the broker loop (broker_node.cc).
  metrics::Histogram commit_us{metrics::kLatencyUsBounds};  // a turn's journal commit, microseconds
  metrics::Histogram commit_rows{metrics::kBatchBounds};    // job and audit rows in that commit
  // Pipelined commits (PostgreSQL): turns with something to commit or send that ran while an earlier
  // turn's commit was still in flight.
  int64_t turns_overlapped = 0;
  metrics::NodeCounters node;
};

}  // namespace titan::broker
