// The real `titan store` process on loopback: bad input of every kind gets its ERROR and the node
// keeps serving; REQ and DEALER clients both work; concurrent increments are atomic.
#include <gtest/gtest.h>

#include <thread>

#include "base/test_dir.h"
#include "schemas/cpp/codec.h"
#include "schemas/cpp/transport.h"
#include "tests/integration/node_process.h"

namespace titan {
namespace {

using wire::Datum;
using wire::MsgType;
using wire::Text;

constexpr int kReplyTimeoutMs = 5000;

class StoreNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<testing::NodeProcess>(
        std::vector<std::string>{"store", "--port", "0", "--dir", dir_.path()}, dir_.File("store.log"));
    ASSERT_TRUE(node_->WaitReady());
    sock_ = Connect(zmq::socket_type::dealer);
  }

  std::unique_ptr<zmq::socket_t> Connect(zmq::socket_type type) {
    auto s = std::make_unique<zmq::socket_t>(ctx_, type);
    s->set(zmq::sockopt::linger, 0);
    s->set(zmq::sockopt::rcvtimeo, kReplyTimeoutMs);
    s->connect(node_->endpoint());
    return s;
  }

  // Sends raw frames (after the delimiter) and returns "TYPE CODE" or "TYPE" of the reply.
  std::string SendRaw(const std::vector<std::string>& frames) {
    sock_->send(zmq::message_t(), zmq::send_flags::sndmore);
    for (size_t i = 0; i < frames.size(); ++i) {
      sock_->send(zmq::buffer(frames[i]),
                  i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    return ReadReply(*sock_);
  }

  static std::string ReadReply(zmq::socket_t& s) {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(kReplyTimeoutMs)) == 0) return "NO REPLY";
    const wire::Decoded d = wire::RecvReply(s);
    if (d.status != wire::DecodeStatus::kOk) return "UNDECODABLE " + d.reason;
    std::string out(wire::NameOf(d.msg.type));
    if (d.msg.type == MsgType::kError) out += " " + std::string(d.msg.Bytes("code"));
    return out;
  }

  std::string Send(const wire::Message& m) { return SendRaw(wire::Encode(m)); }

  // The store still answers a valid request.
  void ExpectServing() {
    EXPECT_EQ("STORE_VALUE", Send(wire::MakeMessage(MsgType::kStoreGet).Set("key", Datum(Text{"probe"}))));
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::NodeProcess> node_;
  zmq::context_t ctx_{1};
  std::unique_ptr<zmq::socket_t> sock_;
};

TEST_F(StoreNodeTest, GarbageFrames) {
  EXPECT_EQ("ERROR MALFORMED", SendRaw({"hello"}));
  ExpectServing();
  EXPECT_EQ("ERROR MALFORMED", SendRaw({"GET / HTTP/1.1", "x", "y"}));
  ExpectServing();
}

TEST_F(StoreNodeTest, TruncatedMsgpack) {
  auto frames = wire::Encode(
      wire::MakeMessage(MsgType::kStorePut).Set("key", Datum(Text{"k"})).Set("value", Datum(Text{"value"})));
  frames[2].resize(frames[2].size() - 3);
  EXPECT_EQ("ERROR MALFORMED", SendRaw(frames));
  ExpectServing();
}

TEST_F(StoreNodeTest, WrongVersion) {
  auto frames = wire::Encode(wire::MakeMessage(MsgType::kStoreGet).Set("key", Datum(Text{"k"})));
  frames[0] = std::string("TITAN\x09", 6);
  EXPECT_EQ("ERROR WRONG_VERSION", SendRaw(frames));
  ExpectServing();
}

TEST_F(StoreNodeTest, UnknownOp) {
  auto frames = wire::Encode(wire::MakeMessage(MsgType::kStoreGet).Set("key", Datum(Text{"k"})));
  frames[1] = "\x7e";
  EXPECT_EQ("ERROR UNKNOWN_TYPE", SendRaw(frames));
  ExpectServing();
  // A known message that is not a request the store answers.
  EXPECT_EQ("ERROR UNKNOWN_TYPE", Send(wire::MakeMessage(MsgType::kStoreOk)));
  ExpectServing();
}

TEST_F(StoreNodeTest, OversizedKeyValueAndBody) {
  EXPECT_EQ("ERROR TOO_LARGE", Send(wire::MakeMessage(MsgType::kStorePut)
                                        .Set("key", Datum(Text{std::string(wire::kMaxKeyBytes + 1, 'k')}))
                                        .Set("value", Datum(Text{"v"}))));
  ExpectServing();
  EXPECT_EQ("ERROR TOO_LARGE",
            Send(wire::MakeMessage(MsgType::kStorePut)
                     .Set("key", Datum(Text{"k"}))
                     .Set("value", Datum(wire::Bytes{std::string(wire::kMaxValueBytes + 1, 'v')}))));
  ExpectServing();
  EXPECT_EQ("ERROR TOO_LARGE",
            SendRaw({std::string(wire::kSignature), "\x10", std::string(wire::kMaxBodyBytes + 1, 'x')}));
  ExpectServing();
  std::vector<std::string> many(wire::kMaxFrames + 5, "x");
  EXPECT_EQ("ERROR TOO_LARGE", SendRaw(many));
  ExpectServing();
}

TEST_F(StoreNodeTest, RidIsEchoedOnErrorsToo) {
  auto frames =
      wire::Encode(wire::MakeMessage(MsgType::kStorePut).Set("key", Datum(Text{"k"})).Set("rid", Datum(77)));
  sock_->send(zmq::message_t(), zmq::send_flags::sndmore);
  for (size_t i = 0; i < frames.size(); ++i) {
    sock_->send(zmq::buffer(frames[i]),
                i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  zmq::pollitem_t item{sock_->handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(1, zmq::poll(&item, 1, std::chrono::milliseconds(kReplyTimeoutMs)));
  const wire::Decoded d = wire::RecvReply(*sock_);
  ASSERT_EQ(wire::DecodeStatus::kOk, d.status);
  EXPECT_EQ(MsgType::kError, d.msg.type);
  EXPECT_EQ(77, d.rid.value_or(0));
  EXPECT_EQ("STORE_PUT needs field 'value' (value)", d.msg.Bytes("reason"));
}

TEST_F(StoreNodeTest, ReqSocketClientIsServed) {
  auto req = Connect(zmq::socket_type::req);
  const auto frames = wire::Encode(wire::MakeMessage(MsgType::kHello));
  for (size_t i = 0; i < frames.size(); ++i) {
    req->send(zmq::buffer(frames[i]),
              i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  EXPECT_EQ("WELCOME", ReadReply(*req));
}

TEST_F(StoreNodeTest, ConcurrentIncrementsAreAtomic) {
  constexpr int kClients = 20, kEach = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&] {
      auto s = Connect(zmq::socket_type::dealer);
      for (int i = 0; i < kEach; ++i) {
        wire::SendRequest(
            *s, wire::MakeMessage(MsgType::kStoreIncr).Set("key", Datum(Text{"ctr"})).Set("delta", Datum(1)));
        if (ReadReply(*s) != "STORE_INT") ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(0, failures.load());
  wire::SendRequest(*sock_, wire::MakeMessage(MsgType::kStoreGet).Set("key", Datum(Text{"ctr"})));
  zmq::pollitem_t item{sock_->handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(1, zmq::poll(&item, 1, std::chrono::milliseconds(kReplyTimeoutMs)));
  const wire::Decoded d = wire::RecvReply(*sock_);
  EXPECT_EQ(std::to_string(kClients * kEach), d.msg.Bytes("value"));
}

TEST_F(StoreNodeTest, CleanStopOnSigterm) { EXPECT_TRUE(node_->Stop()); }

}  // namespace
}  // namespace titan
