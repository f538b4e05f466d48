// StoreMetrics: requests by op and answer, batch and commit histograms, and METRICS_GET through StoreService.
#include "store/store_metrics.h"

#include <gtest/gtest.h>

#include "base/test_dir.h"
#include "store/store_service.h"

namespace titan::store {
namespace {

using wire::MsgType;

std::string Families(const wire::Message& reply) {
  const Result<wire::MetricsMsg> m = wire::MetricsMsg::From(reply);
  EXPECT_TRUE(m.ok()) << m.message();
  return m.ok() ? metrics::Render(m->families) : "";
}

TEST(StoreMetricsTest, CountsRequestsByOpAndAnswer) {
  StoreMetrics m;
  m.Request(MsgType::kStorePut, false, 300);
  m.Request(MsgType::kStorePut, true, 200);
  m.Request(MsgType::kStoreGet, false, 40);
  m.Request(MsgType::kMetricsGet, false, 40);
  m.Batch(4, 150);
  m.Batch(1, std::nullopt);  // a batch of reads only: nothing committed
  EXPECT_EQ(4, m.requests());
  EXPECT_EQ(1, m.errors());
  EXPECT_EQ(2, m.batches());
  const std::string text = Families(m.Reply());
  EXPECT_NE(std::string::npos, text.find("titan_store_requests_total{put,ok} 1\n")) << text;
  EXPECT_NE(std::string::npos, text.find("titan_store_requests_total{put,error} 1\n")) << text;
  EXPECT_NE(std::string::npos, text.find("titan_store_requests_total{get,ok} 1\n")) << text;
  EXPECT_NE(std::string::npos, text.find("titan_store_requests_total{metrics_get,ok} 1\n")) << text;
  EXPECT_NE(std::string::npos, text.find("titan_store_request_seconds{put} 500 count=2\n")) << text;
  EXPECT_NE(std::string::npos, text.find("titan_store_commit_seconds 150 count=1\n")) << text;
  EXPECT_NE(std::string::npos, text.find("titan_store_batch_requests 5 count=2\n")) << text;
  EXPECT_NE(std::string::npos, text.find("titan_read_only{store} 0\n")) << text;
}

TEST(StoreMetricsTest, MetricsGetIsAnsweredByTheService) {
  testing::TempDir dir;
  KvEngine engine;
  ASSERT_TRUE(engine.Open(dir.File("s.db"), true).ok());
  StoreMetrics m;
  m.node().forbidden = 2;
  StoreService service(&engine, &m);
  bool failed = false;
  const wire::Message reply = service.Handle(wire::MetricsGetMsg{}.ToMessage(), &failed);
  EXPECT_FALSE(failed);
  ASSERT_EQ(MsgType::kMetrics, reply.type);
  EXPECT_NE(std::string::npos, Families(reply).find("titan_auth_failures_total{store,forbidden} 2\n"));
  StoreService without(&engine);  // no metrics: the request is not one it answers
  EXPECT_EQ(MsgType::kError, without.Handle(wire::MetricsGetMsg{}.ToMessage(), &failed).type);
}

}  // namespace
}  // namespace titan::store
