// Metrics primitives: histogram buckets as Prometheus reads them, bounded labels, the families of a reply.
#include "base/metrics.h"

#include <gtest/gtest.h>

namespace titan::metrics {
namespace {

constexpr int64_t kBounds[] = {10, 100, 1000};

// "le:count ..." of a histogram's cumulative buckets, then "count=N sum=S".
std::string Buckets(const Histogram& h) {
  const wire::MetricSample s = h.Sample({});
  std::string out;
  for (const wire::MetricBucket& b : *s.buckets)
    out += std::to_string(b.le) + ":" + std::to_string(b.count) + " ";
  return out + "count=" + std::to_string(*s.count) + " sum=" + std::to_string(s.value);
}

TEST(MetricsTest, LabelValuesAreLowerCase) {
  EXPECT_EQ("waiting_approval", LowerLabel("WAITING_APPROVAL"));
  EXPECT_EQ("store_put", LowerLabel("STORE_PUT"));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndInclusiveOfTheirBound) {
  Histogram h(kBounds);
  EXPECT_EQ("10:0 100:0 1000:0 count=0 sum=0", Buckets(h));
  for (int64_t v : {0, 10, 11, 100, 999, 5000}) h.Observe(v);
  EXPECT_EQ("10:2 100:4 1000:5 count=6 sum=6120", Buckets(h));  // 5000 is only in +Inf (the count)
}

TEST(MetricsTest, ANegativeDurationCountsAsZero) {
  Histogram h(kBounds);
  h.Observe(-42);  // a wall clock set back between a start and an end
  EXPECT_EQ("10:1 100:1 1000:1 count=1 sum=0", Buckets(h));
}

TEST(MetricsTest, LabelValuesPastTheBoundBecomeOther) {
  LabelBound bound(2);
  EXPECT_EQ("GPU", bound.Admit("GPU"));
  EXPECT_EQ("GENERAL", bound.Admit("GENERAL"));
  EXPECT_EQ("other", bound.Admit("TAG-1"));
  EXPECT_EQ("other", bound.Admit("TAG-2"));
  EXPECT_EQ("GPU", bound.Admit("GPU"));  // one admitted before stays itself
}

TEST(MetricsTest, FamiliesRenderTheirSamplesInOrder) {
  CounterVec done;
  done.Add({"completed", "GPU"}, 5);
  done.Add({"failed", "GPU"});
  done.Add({"completed", "GPU"});
  HistogramVec wait(kBounds);
  wait.Observe({"GPU"}, 50);
  FamilyList out;
  out.Counter("titan_jobs_finished_total", "help", {"outcome", "capability"}, done);
  out.Gauge("titan_slots", "help", 8);
  out.Histogram("titan_job_queue_wait_seconds", "help", {"capability"}, wait, 1000);
  const std::vector<wire::MetricFamily> families = out.Take();
  EXPECT_EQ(
      "titan_jobs_finished_total{completed,GPU} 6\n"
      "titan_jobs_finished_total{failed,GPU} 1\n"
      "titan_slots 8\n"
      "titan_job_queue_wait_seconds{GPU} 50 count=1\n",
      Render(families));
  EXPECT_EQ("counter", families[0].type);
  EXPECT_FALSE(families[0].scale.has_value());  // 1: not sent
  EXPECT_EQ(1000, families[2].scale.value_or(0));
  EXPECT_EQ((std::vector<std::string>{"outcome", "capability"}), families[0].labels);
}

TEST(MetricsTest, NodeFamiliesCarryTheNodeLabel) {
  FamilyList out;
  out.Node("store",
           NodeCounters{.malformed_clients = 3,
                        .forbidden = 2,
                        .handshakes_refused = 1,
                        .undeliverable = 4,
                        .read_only = true,
                        .start_wall_ms = 1700000000000},
           /*worker_port=*/false);
  EXPECT_EQ(
      "titan_malformed_messages_total{store,client} 3\n"
      "titan_auth_failures_total{store,forbidden} 2\n"
      "titan_auth_failures_total{store,handshake} 1\n"
      "titan_undeliverable_messages_total{store} 4\n"
      "titan_read_only{store} 1\n"
      "titan_node_start_time_seconds{store} 1700000000000\n",
      Render(out.Take()));
}

TEST(MetricsTest, AReplyRoundTripsThroughItsStruct) {
  FamilyList out;
  Histogram h(kBounds);
  h.Observe(7);
  out.Histogram("titan_store_commit_seconds", "help", h, 1'000'000);
  const wire::Message msg = wire::MetricsMsg{.node = "store", .families = out.Take()}.ToMessage();
  const Result<wire::MetricsMsg> back = wire::MetricsMsg::From(msg);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ("store", back->node);
  EXPECT_EQ("titan_store_commit_seconds 7 count=1\n", Render(back->families));
}

}  // namespace
}  // namespace titan::metrics
