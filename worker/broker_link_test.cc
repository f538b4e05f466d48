// BrokerLink against a fake broker on 127.0.0.1 (one ROUTER answering HELLO and WORKER_READY), with
// injected clocks: the link's timers follow the monotonic clock only, so a wall-clock step of an hour
// either way does not make it take the broker for gone; and with CURVE, a refused handshake makes the
// link read its credential file again. Waits on the sockets, never sleeps.
#include "worker/broker_link.h"

#include <gtest/gtest.h>

#include <chrono>

#include "base/test_dir.h"
#include "schemas/cpp/transport.h"
#include "security/curve_keys.h"

namespace titan::worker {
namespace {

using wire::Datum;
using wire::MsgType;

constexpr int64_t kT0 = 5'000'000;  // monotonic ms
constexpr int64_t kWall0 = 1'700'000'000'000;
constexpr int64_t kHour = 3'600'000;

// One ROUTER standing for the broker's client and worker sockets both (WELCOME names its own port).
struct FakeBroker {
  zmq::context_t ctx{1};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  int port = 0;

  // With `curve`: a CURVE server with that keypair (no ZAP handler here: any client key is admitted).
  explicit FakeBroker(const std::optional<security::Keypair>& curve = std::nullopt) {
    wire::ConfigureSocket(router);
    if (curve) {
      router.set(zmq::sockopt::curve_server, 1);
      router.set(zmq::sockopt::curve_secretkey, curve->secret_key);
    }
    router.bind("tcp://127.0.0.1:0");
    port = wire::BoundPort(router);
  }

  // Answers the next message (HELLO: WELCOME; WORKER_READY: WORKER_WELCOME) and returns its type;
  // kError when nothing came within 10 s.
  MsgType Serve() {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(10000)) <= 0) return MsgType::kError;
    wire::Incoming in;
    if (!wire::RecvFromRouter(router, &in, false)) return MsgType::kError;
    const wire::Decoded d = wire::DecodeIncoming(in);
    if (d.msg.type == MsgType::kHello) {
      wire::Message welcome = wire::MakeMessage(MsgType::kWelcome);
      welcome.Set("node", Datum(wire::Text{"broker"})).Set("version", Datum(wire::Text{"test"}));
      wire::SendTo(router, in.envelope, welcome.Set("worker_port", Datum(int64_t{port})));
    } else if (d.msg.type == MsgType::kWorkerReady) {
      wire::SendTo(router, in.envelope,
                   wire::MakeMessage(MsgType::kWorkerWelcome).Set("heartbeat_ms", Datum(int64_t{1000})));
    }
    return d.msg.type;
  }
};

// Polls the link's sockets until something arrived (up to 10 s), then receives at `now`.
std::vector<Inbound> Await(BrokerLink& link, Instant now) {
  zmq::pollitem_t items[2];
  const size_t n = link.AddPollItems(items, false);
  zmq::poll(items, n, std::chrono::milliseconds(10000));
  return link.Receive(now);
}

TEST(BrokerLink, AWallClockJumpEitherWayDoesNotMakeTheBrokerLookGone) {
  FakeBroker broker;
  zmq::context_t ctx{1};
  BrokerLink link(ctx, "127.0.0.1", broker.port, 1000, [] {
    wire::WorkerReadyMsg ready;
    ready.name = "w1";
    return ready;
  });
  Instant now{kT0, kWall0};
  link.Tick(now, [] { return wire::HeartbeatMsg{.busy = 0}; });
  ASSERT_EQ(MsgType::kHello, broker.Serve());
  Await(link, now);
  ASSERT_EQ(MsgType::kWorkerReady, broker.Serve());
  ASSERT_EQ(1u, Await(link, now).size());  // WORKER_WELCOME, passed on
  ASSERT_EQ(BrokerLink::State::kReady, link.state());

  // 5 s of monotonic time (within the 10 beats of silence allowed) while the wall clock jumps.
  for (const int64_t wall_step : {kHour, -2 * kHour, 3 * kHour}) {
    now = Instant{now.mono_ms + 1700, now.wall_ms + wall_step};
    link.Tick(now, [] { return wire::HeartbeatMsg{.busy = 0}; });
    EXPECT_EQ(BrokerLink::State::kReady, link.state()) << "wall step " << wall_step;
    EXPECT_EQ(MsgType::kHeartbeat, broker.Serve());  // still beating on the same connection
  }
  // Only monotonic silence counts: 10 beats of it, and the link starts over with a HELLO.
  now = Instant{now.mono_ms + 10 * 1000 + 1, now.wall_ms};
  link.Tick(now, [] { return wire::HeartbeatMsg{.busy = 0}; });
  EXPECT_EQ(BrokerLink::State::kDiscovering, link.state());
  EXPECT_EQ(MsgType::kHello, broker.Serve());
}

TEST(BrokerLink, AfterARefusedHandshakeItConnectsWithItsCredentialFileAsRewritten) {
  const security::Keypair server = *security::NewKeypair(), mine = *security::NewKeypair();
  FakeBroker broker(server);
  titan::testing::TempDir dir;
  const std::string path = dir / "w.cred";
  security::Credential written{"w", "worker", mine.public_key, mine.secret_key,
                               security::NewKeypair()->public_key};
  ASSERT_TRUE(security::WriteCredential(path, written).ok());  // it names another server key
  zmq::context_t ctx{1};
  BrokerLink link(
      ctx, "127.0.0.1", broker.port, 1000, [] { return wire::WorkerReadyMsg{.name = "w1"}; },
      *security::ReadCredential(path));
  const Instant now{kT0, kWall0};
  link.Tick(now, [] { return wire::HeartbeatMsg{.busy = 0}; });
  Await(link, now);  // refused: the file is as it was, so the link waits for ZeroMQ's next try
  EXPECT_EQ(std::nullopt, link.TakeNewServerKey());
  EXPECT_EQ(BrokerLink::State::kDiscovering, link.state());

  written.server_key = server.public_key;  // what `titan keys rotate` does to a credential in the keys folder
  ASSERT_TRUE(security::WriteCredential(path, written).ok());
  std::optional<std::string> key;
  for (int tries = 0; tries < 100 && !key; ++tries) {
    Await(link, now);  // the next refusal finds the file changed
    key = link.TakeNewServerKey();
  }
  EXPECT_EQ(server.public_key, key);
  EXPECT_EQ(MsgType::kHello, broker.Serve());  // the new connection's handshake passed
}

}  // namespace
}  // namespace titan::worker
