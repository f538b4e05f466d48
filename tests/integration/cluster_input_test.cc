// Hostile input on both broker ports: garbage, wrong versions, unknown types, truncated and
// schema-breaking bodies get their ERROR (or are dropped) and the broker keeps serving; a peer on the
// worker port, registered or not, cannot end or write into another worker's job. In plaintext and with
// CURVE on.
#include <gtest/gtest.h>

#include <memory>
#include <zmq.hpp>

#include "schemas/cpp/transport.h"
#include "tests/integration/cluster_fixture.h"

namespace titan::cluster_test {
namespace {

// Sends `frames` on a raw socket (after an empty delimiter when `delimiter`) and describes the reply:
// "ERROR CODE", "TYPE", or "NO REPLY". Skips broker HEARTBEATs.
std::string RawCall(zmq::socket_t& s, const std::vector<std::string>& frames, bool delimiter,
                    int timeout_ms = 5000) {
  if (delimiter) s.send(zmq::message_t(), zmq::send_flags::sndmore);
  for (size_t i = 0; i < frames.size(); ++i) {
    s.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
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
