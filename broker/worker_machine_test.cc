// The broker keeps each worker's machine as its last HEARTBEAT reported it and lists it with the worker.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class WorkerMachineTest : public BrokerCoreTest {
 protected:
  void Beat(const std::string& worker, std::optional<wire::MachineStats> machine) {
    core_->OnWorker("id-" + worker, wire::HeartbeatMsg{.busy = 0, .machine = std::move(machine)}.ToMessage(),
                    now_);
    Turn();
  }
  // The machine STATS lists for `worker`: "cpu=423 mem=3/16" or "none".
  std::string Listed(const std::string& worker) {
    const Result<wire::StatsMsg> stats = wire::StatsMsg::From(Client(wire::StatsGetMsg{}.ToMessage()));
    EXPECT_TRUE(stats.ok());
    for (const wire::WorkerInfo& w : stats->workers) {
      if (w.name != worker) continue;
      if (!w.machine) return "none";
      return "cpu=" + std::to_string(w.machine->cpu_permille.value_or(-1)) +
             " mem=" + std::to_string(w.machine->mem_used_bytes.value_or(-1)) + "/" +
             std::to_string(w.machine->mem_total_bytes.value_or(-1));
    }
    return "no worker " + worker;
  }
};

TEST_F(WorkerMachineTest, TheLastReportedMachineIsListedAndABeatWithoutOneKeepsIt) {
  Join("w1", 2);
  Join("w2", 2);
  EXPECT_EQ("none", Listed("w1"));
  Beat("w1", wire::MachineStats{.cpu_permille = 423, .mem_used_bytes = 3, .mem_total_bytes = 16});
  EXPECT_EQ("cpu=423 mem=3/16", Listed("w1"));
  EXPECT_EQ("none", Listed("w2"));
  Beat("w1", std::nullopt);  // an older worker, or a beat that carries only liveness
  EXPECT_EQ("cpu=423 mem=3/16", Listed("w1"));
  Beat("w1", wire::MachineStats{.cpu_permille = 7, .mem_used_bytes = 4, .mem_total_bytes = 16});
  EXPECT_EQ("cpu=7 mem=4/16", Listed("w1"));
}

}  // namespace
}  // namespace titan::broker
