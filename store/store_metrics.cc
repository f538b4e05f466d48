// TitanStore's metrics (see store_metrics.h).
#include "store/store_metrics.h"

namespace titan::store {
namespace {

// The op label of a request: its message name in lower case, "store_" dropped (put, get, incr, hello,
// metrics_get, ...): a bounded set, the store's requests in the schema.
std::string OpLabel(wire::MsgType type) {
  const std::string name = metrics::LowerLabel(wire::NameOf(type));
  return name.rfind("store_", 0) == 0 ? name.substr(6) : name;
}

}  // namespace

void StoreMetrics::Request(wire::MsgType type, bool error, int64_t us) {
  const std::string op = OpLabel(type);
  by_type_.Add({op, error ? "error" : "ok"});
  latency_.Observe({op}, us);
  ++requests_;
  if (error) ++errors_;
}

void StoreMetrics::Batch(int64_t requests, std::optional<int64_t> commit_us) {
  batch_size_.Observe(requests);
  if (commit_us) commit_us_.Observe(*commit_us);
}

wire::Message StoreMetrics::Reply() const {
  metrics::FamilyList out;
  out.Counter("titan_store_requests_total", "TitanStore requests by type (op) and answer (ok, error).",
              {"op", "result"}, by_type_);
  out.Histogram("titan_store_request_seconds",
                "From the start of a request's batch to its reply: applying the batch and its commit.",
                {"op"}, latency_, 1'000'000);
  out.Histogram("titan_store_commit_seconds", "How long a batch's commit took (one fsync).", commit_us_,
                1'000'000);
  out.Histogram("titan_store_batch_requests", "Requests applied in one batch (one transaction).",
                batch_size_);
  out.Node("store", node_, /*worker_port=*/false);
  return wire::MetricsMsg{.node = "store", .families = out.Take()}.ToMessage();
}

}  // namespace titan::store
