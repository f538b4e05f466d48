// WorkerCore: command jobs (no file to fetch), runtimes (a job naming one this worker lacks is refused,
// never run with another interpreter) and volumes (VOLUME_ENSURE / VOLUME_DELETE become edge commands).
#include "worker/worker_core_fixture.h"

namespace titan::worker {
namespace {

class PayloadTest : public WorkerCoreTest {
 protected:
  PayloadTest() {
    config_.runtimes = {"py311"};
    config_.volumes_dir = "/srv/w1/volumes";
    Reset();
  }
};

TEST_F(PayloadTest, ACommandJobIsLaunchedWithoutAFile) {
  EXPECT_EQ("launch e/1", Deliver(Assign("e", 1, {{"command", S("echo")}}, /*sha=*/"")));
  EXPECT_EQ("e/1:running", core_->RenderJobs());
}

TEST_F(PayloadTest, AJobNamingARuntimeThisWorkerLacksIsRefusedNotRun) {
  EXPECT_EQ(
      "done r/1: worker w1 does not offer runtime 'node-18'; start a worker with --runtime node-18=PATH",
      Deliver(Assign("r", 1, {{"runtime", S("node-18")}})));
  EXPECT_EQ("fetch f1; launch p/1", Deliver(Assign("p", 1, {{"runtime", S("py311")}})));
}

TEST_F(PayloadTest, TheWorkerReportsItsRuntimesAndVolumesDirectory) {
  const wire::WorkerReadyMsg ready = core_->ReadyMessage();
  EXPECT_EQ(std::vector<std::string>{"py311"}, ready.runtimes.value_or(std::vector<std::string>{}));
  EXPECT_EQ("/srv/w1/volumes", ready.volumes_dir.value_or(""));
}

TEST_F(PayloadTest, VolumeMessagesBecomeEdgeCommands) {
  EXPECT_EQ("ensure-volumes data fast",
            Deliver(wire::VolumeEnsureMsg{.volumes = {{.name = "data", .type = "filesystem"},
                                                      {.name = "fast", .type = "memory", .size_bytes = 1024}}}
                        .ToMessage()));
  EXPECT_EQ("delete-volume data", Deliver(wire::VolumeDeleteMsg{.name = "data"}.ToMessage()));
}

}  // namespace
}  // namespace titan::worker
