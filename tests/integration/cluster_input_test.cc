// Hostile input on both broker ports: garbage, wrong versions, unknown types, truncated and
// schema-breaking bodies get their ERROR (or are dropped) and the broker keeps serving; a peer on the
// worker port, registered or not, cannot end or write into another worker's job. In plaintext and with
// CURVE on.
#include <gtest/gtest.h>

#include <climits>
#include <cstdio>
#include <memory>
#include <zmq.hpp>

#include "schemas/cpp/transport.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/integration/oversized.h"

namespace titan::cluster_test {
namespace {

// Waits for a reply on `s` and describes it: "ERROR CODE", "TYPE", or "NO REPLY". Skips broker
// HEARTBEATs.
std::string AwaitReply(zmq::socket_t& s, int timeout_ms = 5000) {
  const Deadline deadline = In(std::chrono::milliseconds(timeout_ms));
  for (;;) {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(testing::MillisLeft(deadline))) == 0) return "NO REPLY";
    const wire::Decoded d = wire::RecvReply(s);
    if (d.status != wire::DecodeStatus::kOk) return "UNDECODABLE " + d.reason;
    if (d.msg.type == MsgType::kHeartbeat) continue;
    std::string out(wire::NameOf(d.msg.type));
    if (d.msg.type == MsgType::kError) out += " " + std::string(d.msg.Bytes("code"));
    return out;
  }
}

// Sends `frames` on a raw socket (after an empty delimiter when `delimiter`) and describes the reply
// (AwaitReply).
std::string RawCall(zmq::socket_t& s, const std::vector<std::string>& frames, bool delimiter,
                    int timeout_ms = 5000) {
  if (delimiter) s.send(zmq::message_t(), zmq::send_flags::sndmore);
  for (size_t i = 0; i < frames.size(); ++i) {
    s.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  return AwaitReply(s, timeout_ms);
}

// Each test runs twice: in plaintext and with CURVE on (an authenticated peer's bad input is handled the
// same way once it is decrypted).
class ClusterInputTest : public ClusterTest, public ::testing::WithParamInterface<bool> {
 protected:
  bool Curve() const override { return GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(Security, ClusterInputTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Curve" : "Plaintext"; });

// A DEALER on `port`; with CURVE on, as the admin or (the worker port) as a worker.
std::unique_ptr<zmq::socket_t> RawDealer(Cluster& c, int port) {
  auto s = std::make_unique<zmq::socket_t>(c.context(), zmq::socket_type::dealer);
  s->set(zmq::sockopt::linger, 0);
  c.SecureRaw(*s, port == c.worker_port());
  s->connect(c.Endpoint(port));
  return s;
}

// Regression: one message of 192 frames of 8 MiB took the broker from 81 MB to 1.6 GB, because libzmq
// held the whole message before the node could read any of it. Now libzmq drops the connection once
// the message passes wire::kMaxArrivingBytes and frees what it had of it (docs/protocol.md §7): no
// reply comes, the peer's next request (on the reconnected socket) is answered, and the broker's peak
// memory grows by the bound, not by the message.
TEST_P(ClusterInputTest, OneMessageCanTakeGigabytes) {
  constexpr int kFrames = 64;
  constexpr size_t kFrameBytes = (size_t{8} << 20) - 4096;  // under ZMQ_MAXMSGSIZE once CURVE-encrypted too
  const testing::PeakGrowth growth(c_.broker()->pid(), kFrames, kFrameBytes);
  const auto stats = wire::Encode(wire::MakeMessage(MsgType::kStatsGet));
  auto client = RawDealer(c_, c_.broker_port());
  testing::SendOversized(*client, kFrames, kFrameBytes, true);
  EXPECT_EQ("STATS", RawCall(*client, stats, true, 120'000));  // the first reply: none for the message
  auto worker = RawDealer(c_, c_.worker_port());
  testing::SendOversized(*worker, kFrames, kFrameBytes, false);  // one after the other: one bound
  EXPECT_EQ("ERROR MALFORMED", RawCall(*worker, {"not a message"}, false, 120'000));
  EXPECT_EQ("STATS", RawCall(*client, stats, true));
  const int64_t grown = growth.Check("broker, a message of 64 frames of 8 MiB on each port");
  EXPECT_GE(grown, 0);
  EXPECT_LE(grown, growth.bound());
}

// libzmq had no limit on a message's frame count: 4,000,000 empty frames cost the node ~64 bytes each
// (about 256 MB) before it saw the message. Past wire::kMaxArrivingFrames the connection is dropped.
TEST_P(ClusterInputTest, MillionsOfEmptyFramesAreCutOffAsTheyArrive) {
  constexpr int64_t kFrames = 4'000'000;
  const testing::PeakGrowth growth(c_.broker()->pid(), kFrames, 0);
  auto client = RawDealer(c_, c_.broker_port());
  testing::SendOversized(*client, kFrames, 0, true);
  EXPECT_EQ("STATS", RawCall(*client, wire::Encode(wire::MakeMessage(MsgType::kStatsGet)), true, 120'000));
  const int64_t grown = growth.Check("broker, a message of 4,000,000 empty frames");
  EXPECT_GE(grown, 0);
  EXPECT_LE(grown, growth.bound());
}

// Regression: each malformed worker-port message logged a warning (28.7 MB of log in 60 s from one
// peer). A flood of them writes a bounded number of lines, and STATS counts every one.
TEST_P(ClusterInputTest, ABadPeerFloodsTheLog) {
  constexpr int kFlood = 20000;
  constexpr int kBatch = 1000;
  auto s = RawDealer(c_, c_.worker_port());
  const std::string log = c_.Path("broker-1.log");
  auto peer_lines = [&] {
    const std::string text = testing::ReadFile(log);
    int64_t n = 0;
    for (size_t at = text.find("worker peer"); at != std::string::npos; at = text.find("worker peer", at + 1))
      ++n;
    return n;
  };
  const int64_t lines_before = peer_lines();
  const Deadline deadline = In(kDeadline * 2);
  int replies = 0;
  for (int sent = 0; sent < kFlood; sent += kBatch) {
    for (int i = 0; i < kBatch; ++i) s->send(zmq::str_buffer("\xff\x00garbage"));
    while (replies < sent + kBatch) {  // read the answers as they come, so no queue fills
      zmq::pollitem_t item{s->handle(), 0, ZMQ_POLLIN, 0};
      ASSERT_EQ(1, zmq::poll(&item, 1, std::chrono::milliseconds(testing::MillisLeft(deadline))))
          << replies << " answers of " << kFlood;
      (void)wire::RecvReply(*s);
      ++replies;
    }
  }
  const StatsView stats = c_.Stats();
  ASSERT_EQ("", stats.error);
  EXPECT_EQ(kFlood, stats.malformed_from_workers);
  const int64_t lines = peer_lines() - lines_before;
  std::printf("%d malformed messages from one peer: %lld log lines\n", kFlood, static_cast<long long>(lines));
  EXPECT_GE(lines, 1);
  EXPECT_LE(lines, 2 * 10 + 2);  // a burst of 10 per minute, and one summary line per minute after the first
}

TEST_P(ClusterInputTest, MalformedClientMessagesGetTheirErrors) {
  auto s = RawDealer(c_, c_.broker_port());
  auto call = [&](const std::vector<std::string>& frames) { return RawCall(*s, frames, true); };
  auto send = [&](const wire::Message& m) { return call(wire::Encode(m)); };
  const std::string hello = send(wire::MakeMessage(MsgType::kHello));
  ASSERT_EQ("WELCOME", hello);
  auto serving = [&] { return send(wire::MakeMessage(MsgType::kStatsGet)) == "STATS"; };

  EXPECT_EQ("ERROR MALFORMED", call({"hello"}));
  EXPECT_TRUE(serving());
  EXPECT_EQ("ERROR MALFORMED", call({"GET / HTTP/1.1", "x", "y"}));
  EXPECT_TRUE(serving());

  auto get = wire::Encode(wire::MakeMessage(MsgType::kJobGet).Set("id", Datum(Text{"x"})));
  auto wrong_version = get;
  wrong_version[0] = std::string("TITAN\x02", 6);
  EXPECT_EQ("ERROR WRONG_VERSION", call(wrong_version));
  EXPECT_TRUE(serving());

  auto unknown = get;
  unknown[1] = "\x7e";
  EXPECT_EQ("ERROR UNKNOWN_TYPE", call(unknown));
  EXPECT_TRUE(serving());
  // Known messages the client port does not answer.
  EXPECT_EQ("ERROR UNKNOWN_TYPE", send(wire::MakeMessage(MsgType::kHeartbeat)));
  EXPECT_EQ("ERROR UNKNOWN_TYPE",
            send(wire::MakeMessage(MsgType::kJobAck).Set("id", Datum(Text{"x"})).Set("attempt", Datum(1))));
  EXPECT_TRUE(serving());

  wire::Message submit =
      wire::MakeMessage(MsgType::kJobSubmit)
          .Set("jobs",
               Datum(wire::List{Datum(wire::Map{{"id", Datum(Text{"t"})}, {"file", Datum(Text{"a.sh"})}})}))
          .Set("files", Datum(wire::List{Datum(wire::Map{{"name", Datum(Text{"a.sh"})},
                                                         {"content", Datum(wire::Bytes{"echo hi\n"})}})}));
  auto truncated = wire::Encode(submit);
  truncated[2].resize(truncated[2].size() / 2);
  EXPECT_EQ("ERROR MALFORMED", call(truncated));
  EXPECT_TRUE(serving());

  // Schema violations inside the structs.
  EXPECT_EQ("ERROR MALFORMED", send(wire::MakeMessage(MsgType::kJobGet).Set("id", Datum(7))));
  EXPECT_EQ("ERROR MALFORMED",
            send(wire::MakeMessage(MsgType::kJobSubmit)
                     .Set("jobs", Datum(wire::List{Datum(wire::Map{{"id", Datum(Text{"t"})}})}))  // no file
                     .Set("files", Datum(wire::List{}))));
  EXPECT_EQ("ERROR MALFORMED",
            send(wire::MakeMessage(MsgType::kJobSubmit)
                     .Set("jobs", *submit.Find("jobs"))
                     .Set("files", Datum(wire::List{Datum(
                                       wire::Map{{"name", Datum(Text{"a.sh"})}, {"content", Datum(7)}})}))));
  EXPECT_TRUE(serving());

  // Well-formed but not allowed.
  EXPECT_EQ("ERROR INVALID", send(wire::MakeMessage(MsgType::kJobSubmit)
                                      .Set("jobs", Datum(wire::List{}))
                                      .Set("files", Datum(wire::List{}))));
  // A file neither sent nor deployed.
  EXPECT_EQ("ERROR NOT_FOUND", send(wire::MakeMessage(MsgType::kJobSubmit)
                                        .Set("jobs", *submit.Find("jobs"))
                                        .Set("files", Datum(wire::List{}))));
  EXPECT_EQ("ERROR INVALID", send(wire::MakeMessage(MsgType::kJobLogs)
                                      .Set("id", Datum(Text{"nope"}))
                                      .Set("offset", Datum(0))
                                      .Set("max_bytes", Datum(10))));

  std::vector<std::string> many(wire::kMaxFrames + 4, "x");
  EXPECT_EQ("ERROR TOO_LARGE", call(many));
  EXPECT_TRUE(serving());
  // Frames within the frame limit but more bytes in all than a node keeps of one message.
  EXPECT_EQ("ERROR TOO_LARGE", call(std::vector<std::string>(wire::kMaxFrames, std::string(1 << 20, 'x'))));
  EXPECT_TRUE(serving());

  // Time fields of INT64_MAX: refused, naming the field, instead of running (or timing out) at once.
  for (const char* field : {"delay_ms", "timeout_ms"}) {
    wire::Map spec{{"id", Datum(Text{"forever"})}, {"file", Datum(Text{"a.sh"})}, {field, Datum(INT64_MAX)}};
    EXPECT_EQ("ERROR INVALID",
              send(wire::MakeMessage(MsgType::kJobSubmit)
                       .Set("jobs", Datum(wire::List{Datum(std::move(spec))}))
                       .Set("files",
                            Datum(wire::List{Datum(wire::Map{{"name", Datum(Text{"a.sh"})},
                                                             {"content", Datum(wire::Bytes{"exit 0"})}})}))))
        << field;
  }

  // The rid comes back on an error to a readable body.
  wire::SendRequest(*s, wire::MakeMessage(MsgType::kJobGet).Set("rid", Datum(99)));
  zmq::pollitem_t item{s->handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(1, zmq::poll(&item, 1, 5000ms));
  const wire::Decoded d = wire::RecvReply(*s);
  ASSERT_EQ(wire::DecodeStatus::kOk, d.status);
  EXPECT_EQ(MsgType::kError, d.msg.type);
  EXPECT_EQ(99, d.rid.value_or(0));

  // After all that, a real job still runs.
  AddWorker("w1", 1);
  ASSERT_EQ(1u, Submit({Job("after-garbage", "quick.sh")}).size());
  EXPECT_EQ("COMPLETED", c_.WaitFinal("after-garbage", In(kDeadline)).state);
}

TEST_P(ClusterInputTest, GarbageOnTheWorkerPortIsHarmless) {
  AddWorker("w1", 2);
  auto s = RawDealer(c_, c_.worker_port());
  auto call = [&](const std::vector<std::string>& frames) { return RawCall(*s, frames, false, 3000); };
  auto send = [&](const wire::Message& m) { return call(wire::Encode(m)); };
  // Answered with the right ERROR, or dropped: either way the broker keeps serving.
  auto answered_or_dropped = [](const std::string& reply, const std::string& code) {
    return reply == "ERROR " + code || reply == "NO REPLY";
  };

  EXPECT_PRED2(answered_or_dropped, call({"\xff\x00garbage"}), "MALFORMED");
  EXPECT_PRED2(answered_or_dropped, call({"a", "b", "c", "d"}), "MALFORMED");
  auto hb = wire::Encode(wire::MakeMessage(MsgType::kHeartbeat));
  auto wrong_version = hb;
  wrong_version[0] = std::string("TITAN\x09", 6);
  EXPECT_PRED2(answered_or_dropped, call(wrong_version), "WRONG_VERSION");
  auto unknown = hb;
  unknown[1] = "\x7f";
  EXPECT_PRED2(answered_or_dropped, call(unknown), "UNKNOWN_TYPE");
  auto ready = wire::Encode(wire::MakeMessage(MsgType::kWorkerReady)
                                .Set("name", Datum(Text{"fake"}))
                                .Set("host", Datum(Text{"nowhere"}))
                                .Set("pid", Datum(1))
                                .Set("slots", Datum(1))
                                .Set("capabilities", Datum(wire::List{Datum(Text{"FAKE"})}))
                                .Set("running", Datum(wire::List{}))
                                .Set("finished", Datum(wire::List{})));
  auto truncated = ready;
  truncated[2].resize(truncated[2].size() - 5);
  EXPECT_PRED2(answered_or_dropped, call(truncated), "MALFORMED");
  EXPECT_PRED2(
      answered_or_dropped,
      send(wire::MakeMessage(MsgType::kWorkerReady)
               .Set("name", Datum(Text{"fake"}))
               .Set("host", Datum(Text{"nowhere"}))
               .Set("pid", Datum(1))
               .Set("slots", Datum(1))
               .Set("capabilities", Datum(wire::List{}))
               .Set("running", Datum(wire::List{Datum(wire::Map{{"id", Datum(7)}})}))  // not a JobRef
               .Set("finished", Datum(wire::List{}))),
      "MALFORMED");
  // Valid messages from a peer that never registered: told to register.
  EXPECT_EQ("DISCONNECT", send(wire::MakeMessage(MsgType::kHeartbeat).Set("busy", Datum(0))));

  // A real job runs on w1 meanwhile.
  ASSERT_EQ(1u, Submit({Job("victim", "block.sh")}).size());
  ASSERT_TRUE(WaitStarted({"victim"}, In(kDeadline)));
  const wire::Datum forged_result(wire::Map{{"id", Datum(Text{"victim"})},
                                            {"attempt", Datum(1)},
                                            {"exit_code", Datum(0)},
                                            {"signal", Datum(0)},
                                            {"cancelled", Datum(false)}});
  EXPECT_EQ("DISCONNECT", send(wire::MakeMessage(MsgType::kJobDone).Set("result", forged_result)));

  // Even a registered impostor cannot end or write into a job that runs elsewhere.
  ASSERT_EQ("WORKER_WELCOME", call(ready));
  EXPECT_EQ("JOB_ACK", send(wire::MakeMessage(MsgType::kJobDone).Set("result", forged_result)));
  wire::Message forged_log = wire::MakeMessage(MsgType::kJobLog)
                                 .Set("id", Datum(Text{"victim"}))
                                 .Set("attempt", Datum(1))
                                 .Set("seq", Datum(0))
                                 .Set("stream", Datum(Text{"stdout"}));
  forged_log.blobs.push_back("IMPOSTOR\n");
  auto log_frames = wire::Encode(forged_log);
  for (size_t i = 0; i < log_frames.size(); ++i) {
    s->send(zmq::buffer(log_frames[i]),
            i + 1 < log_frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  EXPECT_PRED2(answered_or_dropped, call({"more garbage"}), "MALFORMED");  // also orders the log before it
  const JobView victim = c_.Get("victim");
  EXPECT_EQ("RUNNING", victim.state) << victim.Render();
  EXPECT_EQ("w1", victim.worker);

  // The broker still serves both dialogs: the job completes on its real worker, a new one runs too.
  Release();
  const JobView done = c_.WaitFinal("victim", In(kDeadline));
  EXPECT_EQ("COMPLETED", done.state) << done.Render();
  EXPECT_EQ("w1", done.worker);
  ASSERT_EQ(1u, Submit({Job("after-garbage", "quick.sh")}).size());
  const JobView after = c_.WaitFinal("after-garbage", In(kDeadline));
  EXPECT_EQ("COMPLETED", after.state) << after.Render();
  wire::Message logs;
  ASSERT_TRUE(c_.Call(wire::MakeMessage(MsgType::kJobLogs)
                          .Set("id", Datum(Text{"victim"}))
                          .Set("offset", Datum(0))
                          .Set("max_bytes", Datum(1 << 20)),
                      &logs));
  ASSERT_FALSE(logs.blobs.empty());
  EXPECT_EQ(std::string::npos, logs.blobs.front().find("IMPOSTOR"));
}

}  // namespace
}  // namespace titan::cluster_test
