// A worker's name belongs to the principal (CURVE key) that registered it while that worker is live.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class WorkerIdentityTest : public BrokerCoreTest {
 protected:
  // WORKER_READY of `name` from connection `identity`, authenticated as `principal`; what the broker
  // answered that connection ("WORKER_WELCOME", or "ERROR FORBIDDEN: <reason>").
  std::string Register(const std::string& identity, const std::string& name, const std::string& principal) {
    wire::WorkerReadyMsg m{.name = name, .host = "h", .pid = 1, .slots = 2, .capabilities = {"GENERAL"}};
    core_->OnWorker(identity, std::move(m).ToMessage(), now_, std::nullopt, principal);
    std::string out;
    for (const Outgoing& o : Turn()) {
      if (o.kind != Outgoing::kWorker || o.identity != identity) continue;
      if (o.msg.type == MsgType::kError) {
        const Status why = wire::StatusOf(o.msg);
        out +=
            "ERROR " + std::string(wire::ErrorCodeName(wire::ErrorCodeOf(why.code()))) + ": " + why.message();
      } else if (o.msg.type == MsgType::kWorkerWelcome) {
        out += "WORKER_WELCOME";
      }
    }
    return out;
  }
};

TEST_F(WorkerIdentityTest, ANameLiveUnderOneKeyIsRefusedToAnotherAndItsJobStays) {
  ASSERT_EQ("WORKER_WELCOME", Register("id-w1", "w1", "workers"));
  Submit({{.id = "a"}});
  ASSERT_EQ("a@w1", Assignments());
  EXPECT_EQ(
      "ERROR FORBIDDEN: worker name 'w1' belongs to principal 'workers' while that worker is live; choose "
      "another --name",
      Register("id-impostor", "w1", "mallory"));
  EXPECT_EQ("RUNNING", State("a"));
  EXPECT_EQ("w1", core_->FindJob("a")->worker);
  Done("w1", "a", 0);  // the real w1 is still the one the broker talks to
  EXPECT_EQ("COMPLETED", State("a"));
}

TEST_F(WorkerIdentityTest, TheSameKeyMayRegisterItsNameAgainOnANewConnection) {
  ASSERT_EQ("WORKER_WELCOME", Register("id-w1", "w1", "workers"));
  EXPECT_EQ("WORKER_WELCOME", Register("id-w1-again", "w1", "workers"));
  EXPECT_EQ("WORKER_WELCOME", Register("id-w2", "w2", "other-workers"));  // other names are free
}

TEST_F(WorkerIdentityTest, ARevokedPrincipalsWorkerIsLostAtOnceItsRunCancelledThereAndRunElsewhere) {
  ASSERT_EQ("WORKER_WELCOME", Register("id-w1", "w1", "mallory"));
  Submit({{.id = "a"}});
  ASSERT_EQ("a@w1", Assignments());
  ASSERT_EQ("WORKER_WELCOME", Register("id-w2", "w2", "workers"));
  core_->RevokeWorkers({"mallory"}, now_);
  std::string told;
  for (const Outgoing& o : Turn()) {
    if (o.kind != Outgoing::kWorker || o.msg.type != MsgType::kJobCancel) continue;
    const Result<wire::JobCancelMsg> cancel = wire::JobCancelMsg::From(o.msg);
    told += o.identity + " " + cancel->id + ": " + cancel->reason;
  }
  EXPECT_EQ(
      "id-w1 a: the broker no longer expects this run: the principal 'mallory' of worker w1 was revoked",
      told);
  EXPECT_EQ("a@w2", Assignments());  // at once: no heartbeat missed yet
  EXPECT_EQ("w2:1/2", core_->RenderWorkers());
  EXPECT_EQ(0, core_->FindJob("a")->lost);                              // a revocation is not the job's loss
  EXPECT_EQ("WORKER_WELCOME", Register("id-w1-new", "w1", "workers"));  // the name is free again
}

}  // namespace
}  // namespace titan::broker
