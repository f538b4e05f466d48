// GPUs in the worker core: each GPU job gets its own devices in CUDA_VISIBLE_DEVICES, held until its run
// is over here; a job that finds too few free waits for them; one asking more than the worker has fails.
#include "worker/worker_core_fixture.h"

namespace titan::worker {
namespace {

class WorkerGpusTest : public WorkerCoreTest {
 protected:
  WorkerGpusTest() {
    config_.gpus = {0, 1};
    Reset();
    core_->OnMessage(Welcome(), Now());
    Run();
  }

  // Delivers the assignment; the CUDA_VISIBLE_DEVICES its launch got ("-": launched without one, "": not
  // launched).
  std::string AssignGpus(const std::string& id, int64_t gpus) {
    core_->OnMessage(Assign(id, 1, {{"gpus", Datum(gpus)}}), Now());
    return Launched();
  }

  // The CUDA_VISIBLE_DEVICES of each launch the core asked for, space-separated ("-" for none).
  std::string Launched() {
    std::string out;
    for (std::vector<Command> cmds; !(cmds = core_->TakeCommands()).empty();) {
      for (const Command& c : cmds) {
        if (c.kind == Command::Kind::kLaunch) {
          std::string visible = "-";
          for (const std::string& kv : c.assign.job.env.value_or(std::vector<std::string>{})) {
            if (kv.rfind("CUDA_VISIBLE_DEVICES=", 0) == 0) visible = kv.substr(21);
          }
          out += (out.empty() ? "" : " ") + c.id + "=" + visible;
        }
        if (c.kind == Command::Kind::kSend && c.msg.type == MsgType::kJobDone)
          out += (out.empty() ? "" : " ") + Brief(c);
        Answer(c);
      }
    }
    return out;
  }
};

TEST_F(WorkerGpusTest, TheWorkerAdvertisesItsGpuCount) {
  EXPECT_EQ(2, core_->ReadyMessage().gpus.value_or(0));
}

TEST_F(WorkerGpusTest, TwoJobsGetDifferentDevicesAndAThirdWaitsUntilOneEnds) {
  EXPECT_EQ("a=0", AssignGpus("a", 1));
  EXPECT_EQ("b=1", AssignGpus("b", 1));
  EXPECT_EQ("", AssignGpus("c", 1));  // both held: c waits, and the broker counts it as running here
  EXPECT_EQ("0:a 1:b", core_->RenderGpus());
  EXPECT_EQ("a/1 b/1 c/1 |", Ready());
  core_->OnExit("a", Exited(0), Now());
  core_->OnOutputDone("a");
  core_->OnTick(Now());
  EXPECT_EQ("done a/1: ok c=0", Launched());
  EXPECT_EQ("0:c 1:b", core_->RenderGpus());
}

TEST_F(WorkerGpusTest, AJobWithoutAGpuRequestGetsNoDevices) {
  EXPECT_EQ("plain=-", AssignGpus("plain", 0));
  EXPECT_EQ("", core_->RenderGpus());
}

TEST_F(WorkerGpusTest, AJobAskingForMoreGpusThanTheWorkerHasFailsToStart) {
  EXPECT_EQ("done big/1: not started: it requests 3 GPUs and worker w1 has 2 (`titan worker --gpus`)",
            AssignGpus("big", 3));
  EXPECT_EQ("", core_->RenderGpus());
}

TEST_F(WorkerGpusTest, AJobWaitingForGpusCanBeCancelled) {
  EXPECT_EQ("both=0,1", AssignGpus("both", 2));
  EXPECT_EQ("", AssignGpus("next", 1));
  core_->OnMessage(Cancel("next", 1), Now());
  EXPECT_EQ("done next/1: stopped by request (cancelled)", Launched());
  EXPECT_EQ("both/1 |", Ready().substr(0, 8));
}

TEST_F(WorkerGpusTest, AFailedLaunchFreesItsDevices) {
  core_->OnMessage(Assign("x", 1, {{"gpus", Datum(int64_t{2})}}), Now());
  for (const Command& c : core_->TakeCommands()) {
    if (c.kind == Command::Kind::kFetch) core_->OnFile(c.sha256, Status::Ok());
  }
  for (const Command& c : core_->TakeCommands()) {
    if (c.kind == Command::Kind::kLaunch)
      core_->OnLaunched("x", 1, Result<int64_t>(Status::Error("no such file")), Now());
  }
  EXPECT_EQ("", core_->RenderGpus());
  EXPECT_EQ("done x/1: no such file y=0", AssignGpus("y", 1));
}

}  // namespace
}  // namespace titan::worker
