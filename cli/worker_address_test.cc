// Workers by host and port: which names mean the same machine, and what `shutdown HOST PORT` finds.
#include "cli/worker_address.h"

#include <gtest/gtest.h>

namespace titan::cli {
namespace {

TEST(SameMachine, Table) {
  const struct {
    const char* host;
    const char* worker_host;
    const char* broker_machine;
    bool same;
  } rows[] = {
      {"node1", "node1", "broker", true},
      {"NODE1", "node1", "broker", true},      // hostnames have no case
      {"node1", "node1.lan", "broker", true},  // a full name and its first label
      {"node1.lan", "node1", "broker", true},
      {"node2", "node1", "broker", false},
      {"localhost", "broker", "broker", true},  // loopback names the broker's machine
      {"127.0.0.1", "broker.lan", "broker", true},
      {"::1", "Broker", "broker", true},
      {"localhost", "node1", "broker", false},
      {"127.0.0.1", "localhost", "127.0.0.1",
       true},                                     // a broker reached by loopback, a worker calling itself so
      {"10.0.0.1", "10.0.0.2", "broker", false},  // addresses are not cut at their first dot
      {"", "node1", "broker", false},
  };
  for (const auto& r : rows)
    EXPECT_EQ(r.same, SameMachine(r.host, r.worker_host, r.broker_machine))
        << r.host << " ~ " << r.worker_host << " (broker on " << r.broker_machine << ")";
}

TEST(BrokerMachine, IsThisMachineWhenTheBrokerIsReachedByLoopback) {
  EXPECT_EQ("box", BrokerMachine("127.0.0.1", "box"));
  EXPECT_EQ("box", BrokerMachine("LOCALHOST", "box"));
  EXPECT_EQ("broker.lan", BrokerMachine("broker.lan", "box"));
}

TEST(FindWorkerAt, FindsByPortOnTheMachineElseListsTheWorkers) {
  const std::vector<WorkerAddress> workers = {
      {"w1", "box", 0}, {"worker-8081", "box", 8081}, {"far-8081", "other", 8081}};
  std::string name, error;
  ASSERT_TRUE(FindWorkerAt(workers, "127.0.0.1", 8081, "box", &name, &error)) << error;
  EXPECT_EQ("worker-8081", name);
  ASSERT_TRUE(FindWorkerAt(workers, "other", 8081, "box", &name, &error)) << error;
  EXPECT_EQ("far-8081", name);
  EXPECT_FALSE(FindWorkerAt(workers, "localhost", 8082, "box", &name, &error));
  EXPECT_EQ(
      "no worker with port 8082 on localhost; the workers are: w1 (box, no port), worker-8081 (box:8081), "
      "far-8081 (other:8081) (`titan shutdown WORKER` takes a name)",
      error);
  EXPECT_FALSE(FindWorkerAt({}, "box", 1, "box", &name, &error));
  EXPECT_EQ("no worker with port 1 on box; no worker is connected", error);
}

TEST(FindShutdownTarget, ANameFirstThenAPortOnAnyMachine) {
  const std::vector<WorkerAddress> workers = {
      {"w1", "box", 0}, {"worker-8081", "box", 8081}, {"8082", "box", 0}, {"gpu", "box", 8082}};
  std::string name, error;
  ASSERT_TRUE(FindShutdownTarget(workers, "w1", &name, &error)) << error;
  EXPECT_EQ("w1", name);
  ASSERT_TRUE(FindShutdownTarget(workers, "8081", &name, &error)) << error;  // the original's `shutdown 8081`
  EXPECT_EQ("worker-8081", name);
  ASSERT_TRUE(FindShutdownTarget(workers, "8082", &name, &error)) << error;  // a worker named so wins
  EXPECT_EQ("8082", name);
  EXPECT_FALSE(FindShutdownTarget(workers, "9000", &name, &error));
  EXPECT_EQ(
      "no worker named '9000' or with port 9000; the workers are: w1 (box, no port), worker-8081 (box:8081), "
      "8082 (box, no port), gpu (box:8082) (`titan shutdown` takes a WORKER name, a PORT, or HOST PORT)",
      error);
  EXPECT_FALSE(FindShutdownTarget(workers, "w9", &name, &error));
  EXPECT_EQ(0u, error.rfind("no worker named 'w9'; the workers are: w1 (box, no port)", 0)) << error;
  EXPECT_FALSE(FindShutdownTarget({}, "0", &name, &error));  // port 0 means "no port": never matched
  EXPECT_EQ("no worker named '0' or with port 0; no worker is connected", error);
}

TEST(FindShutdownTarget, APortOnSeveralMachinesNeedsTheHost) {
  const std::vector<WorkerAddress> workers = {{"a-8081", "node1", 8081}, {"b-8081", "node2", 8081}};
  std::string name, error;
  EXPECT_FALSE(FindShutdownTarget(workers, "8081", &name, &error));
  EXPECT_EQ(
      "workers on several machines have port 8081: a-8081 (node1:8081), b-8081 (node2:8081); name one with "
      "`titan shutdown HOST 8081` or `titan shutdown WORKER`",
      error);
}

TEST(WorkersFromStats, ReadsNameHostAndPort) {
  auto worker = [](const char* name, std::optional<int64_t> port) {
    return wire::WorkerInfo{.name = name, .host = "box", .slots = 1, .state = "READY", .port = port};
  };
  const wire::StatsMsg stats{.workers = {worker("w1", std::nullopt), worker("w9", 9)}};
  const std::vector<WorkerAddress> got = WorkersFromStats(stats);
  ASSERT_EQ(2u, got.size());
  EXPECT_EQ("w1 box 0 w9 box 9", got[0].name + " " + got[0].host + " " + std::to_string(got[0].port) + " " +
                                     got[1].name + " " + got[1].host + " " + std::to_string(got[1].port));
}

TEST(IsWorkerJar, ByBasenameInAnyCase) {
  EXPECT_TRUE(IsWorkerJar("Worker.jar"));
  EXPECT_TRUE(IsWorkerJar("perm_files/worker.JAR"));
  EXPECT_FALSE(IsWorkerJar("MyWorker.jar"));
  EXPECT_FALSE(IsWorkerJar("server.py"));
}

}  // namespace
}  // namespace titan::cli
