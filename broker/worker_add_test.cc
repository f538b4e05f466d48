// WORKER_ADD (`titan deploy Worker.jar PORT [CAPABILITY]`): which worker is asked to start the new one,
// what it is asked, how the new worker is known (by its port), and what is refused.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class WorkerAddTest : public BrokerCoreTest {
 protected:
  void SetUp() override {
    config_.host = "h";  // the fixture's workers report host "h"
    Open();
  }

  Message Add(std::optional<int64_t> port, const std::string& capability = "") {
    wire::WorkerAddMsg m{.port = port};
    if (!capability.empty()) m.capability = capability;
    return Client(std::move(m).ToMessage());
  }

  // A worker registering with an address port (as `titan worker --address-port`), started by `parent`.
  void JoinWithPort(const std::string& name, int64_t port, const std::string& parent,
                    std::vector<std::string> caps = {"GENERAL"}) {
    const wire::WorkerReadyMsg m{.name = name,
                                 .host = "h",
                                 .pid = 2,
                                 .slots = 4,
                                 .capabilities = std::move(caps),
                                 .parent = parent,
                                 .port = port};
    core_->OnWorker("id-" + name, m.ToMessage(), now_);
    Turn();
  }

  // "identity: body" of each WORKER_SPAWN sent so far.
  std::string Spawns() const {
    std::string out;
    for (const auto& o : sent_) {
      if (o.kind == Outgoing::kWorker && o.msg.type == MsgType::kWorkerSpawn)
        out += (out.empty() ? "" : "; ") + o.identity + ": " + wire::Render(Datum(o.msg.body));
    }
    return out;
  }

  int Drains(const std::string& worker) const {
    int n = 0;
    for (const auto& o : sent_) n += o.msg.type == MsgType::kWorkerDrain && o.identity == "id-" + worker;
    return n;
  }

  std::string Reason(const Message& m) const {
    return m.type == MsgType::kError ? std::string(m.Bytes("code")) + ": " + std::string(m.Bytes("reason"))
                                     : std::string(wire::NameOf(m.type)) + " " + std::string(m.Bytes("name"));
  }
};

TEST_F(WorkerAddTest, AWorkerOnThisMachineStartsWorkerPortWithTheCapabilityAndPort) {
  Join("w1", 4);
  EXPECT_EQ("OK worker-8081", Reason(Add(8081, "GPU")));
  EXPECT_EQ(  // the WORKER_SPAWN fields in schema order
      "id-w1: {name: \"worker-8081\", slots: 4, reason: \"an operator asked for a worker with port 8081\", "
      "tags: [\"GPU\"], port: 8081, manual: true}",
      Spawns());
  JoinWithPort("worker-8081", 8081, "w1", {"GENERAL", "GPU"});
  const Message stats = Client(wire::StatsGetMsg{}.ToMessage());
  const auto& workers = std::get<wire::List>(stats.Find("workers")->v);
  ASSERT_EQ(2u, workers.size());
  const auto& added = std::get<wire::Map>(workers[1].v);
  EXPECT_EQ("worker-8081", wire::FieldStr(added, "name"));
  EXPECT_EQ(8081, wire::FieldInt(added, "port").value_or(0));
  EXPECT_FALSE(wire::FieldInt(std::get<wire::Map>(workers[0].v), "port").has_value()) << "w1 has no port";
}

TEST_F(WorkerAddTest, RefusesATakenPortAStartingOneAndNoPort) {
  Join("w1", 4);
  JoinWithPort("mine", 9000, "");
  EXPECT_EQ(
      "INVALID: worker mine already has port 9000; choose another port, or retire it first with `titan "
      "shutdown HOST 9000`",
      Reason(Add(9000)));
  EXPECT_EQ("OK worker-8081", Reason(Add(8081)));
  EXPECT_EQ("INVALID: worker worker-8081 is being started already; `titan stats` lists it once it has joined",
            Reason(Add(8081)));
  EXPECT_EQ("INVALID: WORKER_ADD needs the new worker's port (1..65535): `titan deploy Worker.jar PORT`",
            Reason(Add(std::nullopt)));
  EXPECT_EQ("INVALID: WORKER_ADD needs the new worker's port (1..65535): `titan deploy Worker.jar PORT`",
            Reason(Add(70000)));
}

TEST_F(WorkerAddTest, NeedsAWorkerOnTheBrokersMachine) {
  config_.host = "broker-box";
  Open();
  Join("w1", 4);  // on host "h"
  EXPECT_EQ(
      "INVALID: no worker runs on the broker's machine (broker-box) to start it; start one there with `titan "
      "worker`",
      Reason(Add(8081)));
  EXPECT_EQ("", Spawns());
}

TEST_F(WorkerAddTest, PrefersAWorkerStartedByHandOverAChild) {
  Join("w1-auto-1", 4, {"GENERAL"}, {}, {}, "w0");  // an auto-scaled child: never asked
  EXPECT_EQ(
      "INVALID: no worker runs on the broker's machine (h) to start it; start one there with `titan worker`",
      Reason(Add(8081)));
  JoinWithPort("worker-8081", 8081, "w0");  // added by an operator: may be asked
  Join("w2", 4);
  EXPECT_EQ("OK worker-8082", Reason(Add(8082)));
  EXPECT_EQ(0u, Spawns().rfind("id-w2: ", 0)) << Spawns();
}

TEST_F(WorkerAddTest, AutoScalingNeverRetiresAnAddedWorker) {
  config_.host = "h";
  config_.scaling.max_children = 2;
  config_.scaling.cooldown_ms = 1000;
  Open();
  Join("w1", 4);
  ASSERT_EQ("OK worker-8081", Reason(Add(8081)));
  JoinWithPort("worker-8081", 8081, "w1");
  Advance(10000, {"w1", "worker-8081"});
  EXPECT_EQ(0, Drains("worker-8081"));
  EXPECT_EQ("w1:0/4 worker-8081:0/4", core_->RenderWorkers());
}

}  // namespace
}  // namespace titan::broker
