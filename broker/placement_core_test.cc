// Placement through BrokerCore: requests packed into workers' capacity, head-of-line blocking within one
// requirement's queue, a large request never starved, reserved capacity through a run's end, requeue,
// its worker's loss and a broker restart, and the reasons of jobs no live worker could run.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

struct Capacity {
  int64_t cpu_milli = 0, memory_mb = 0, gpus = 0;
  std::vector<std::string> controls = {}, runtimes = {};
};

struct Ask {
  std::string id;
  int64_t cpu_milli = 0, memory_mb = 0, gpus = 0;
  int64_t priority = 1;
  std::string runtime = {};
  int64_t max_memory = 0;
};

class PlacementTest : public BrokerCoreTest {
 protected:
  void JoinWith(const std::string& name, int slots, const Capacity& c,
                std::vector<wire::JobRef> running = {}) {
    wire::WorkerReadyMsg m{.name = name,
                           .host = "h",
                           .pid = 1,
                           .slots = slots,
                           .capabilities = {"GENERAL"},
                           .running = std::move(running)};
    m.cpu_milli = c.cpu_milli;
    m.memory_mb = c.memory_mb;
    m.gpus = c.gpus;
    if (!c.controls.empty()) m.controls = c.controls;
    if (!c.runtimes.empty()) m.runtimes = c.runtimes;
    core_->OnWorker("id-" + name, std::move(m).ToMessage(), now_);
    Turn();
  }

  Message SubmitAsks(const std::vector<Ask>& asks) {
    wire::JobSubmitMsg req{.files = {JobFile()}};
    for (const Ask& a : asks) {
      wire::JobSpec spec = Spec({.id = a.id, .priority = a.priority});
      if (a.cpu_milli) spec.cpu_milli = a.cpu_milli;
      if (a.memory_mb) spec.memory_mb = a.memory_mb;
      if (a.gpus) spec.gpus = a.gpus;
      if (!a.runtime.empty()) spec.runtime = a.runtime;
      if (a.max_memory) spec.max_memory = a.max_memory;
      req.jobs.push_back(std::move(spec));
    }
    return Client(std::move(req).ToMessage());
  }

  // "w1 cpu 1000/2000 mem 0/0 gpu 0/0" for each worker STATS reports.
  std::string Reserved() {
    const Result<wire::StatsMsg> stats = wire::StatsMsg::From(Client(wire::StatsGetMsg{}.ToMessage()));
    if (!stats.ok()) return "?";
    std::string out;
    for (const wire::WorkerInfo& w : stats->workers) {
      auto pair = [](std::optional<int64_t> used, std::optional<int64_t> cap) {
        return std::to_string(used.value_or(-1)) + "/" + std::to_string(cap.value_or(-1));
      };
      out += (out.empty() ? "" : " ") + w.name + " cpu " + pair(w.cpu_milli_reserved, w.cpu_milli) + " mem " +
             pair(w.memory_mb_reserved, w.memory_mb) + " gpu " + pair(w.gpus_reserved, w.gpus);
    }
    return out;
  }

  std::string Reason(const std::string& id) {
    const Result<wire::JobInfoMsg> info =
        wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = id}.ToMessage()));
    return info.ok() && info->job ? info->job->reason.value_or("") : "?";
  }
};

TEST_F(PlacementTest, TwoOneCoreJobsPackOnATwoCoreWorkerAndAThirdWaits) {
  JoinWith("w1", 8, {.cpu_milli = 2000});
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitAsks({{"a", 1000}, {"b", 1000}, {"c", 1000}})));
  EXPECT_EQ("a@w1 b@w1", Assignments());
  EXPECT_EQ("QUEUED", State("c"));
  EXPECT_EQ("w1 cpu 2000/2000 mem 0/0 gpu 0/0", Reserved());
  Done("w1", "a", 0);
  EXPECT_EQ("c@w1", Assignments());
  EXPECT_EQ("w1 cpu 2000/2000 mem 0/0 gpu 0/0", Reserved());
  Done("w1", "b", 0);
  Done("w1", "c", 0);
  EXPECT_EQ("w1 cpu 0/2000 mem 0/0 gpu 0/0", Reserved());
}

TEST_F(PlacementTest, AJobThatDoesNotFitDoesNotBlockSmallerOnesBehindIt) {
  JoinWith("w1", 8, {.cpu_milli = 2000});
  // One queue (GENERAL): b does not fit beside a, c behind it does.
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitAsks({{"a", 1500}, {"b", 1000}, {"c", 500}})));
  EXPECT_EQ("a@w1 c@w1", Assignments());
  EXPECT_EQ("QUEUED", State("b"));
  Done("w1", "a", 0);
  EXPECT_EQ("b@w1", Assignments());
}

TEST_F(PlacementTest, EqualDemandsRunInPriorityThenSubmissionOrder) {
  JoinWith("w1", 8, {.cpu_milli = 1000});
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitAsks({{"first", 1000}})));
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitAsks({{"x", 1000}, {"y", 1000}, {"urgent", 1000, 0, 0, 5}})));
  EXPECT_EQ("first@w1", Assignments());
  Done("w1", "first", 0);
  Done("w1", "urgent", 0);
  Done("w1", "x", 0);
  EXPECT_EQ("urgent@w1 x@w1 y@w1", Assignments());
}

TEST_F(PlacementTest, ALargeRequestIsNotStarvedByAStreamOfSmallOnes) {
  JoinWith("w1", 100, {.cpu_milli = 2000});
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitAsks({{"s0", 1000}, {"big", 2000}})));
  EXPECT_EQ("s0@w1", Assignments());
  // Small jobs keep arriving; each fits beside the running one and is placed past `big`, until `big` has
  // been passed 16 times: then w1 is held for it.
  std::string last = "s0";
  int placed = 0;
  for (int i = 1; i <= 40; ++i) {
    const std::string id = "s" + std::to_string(i);
    ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitAsks({{id, 1000}})));
    if (Assignments().empty()) break;  // held for big
    ++placed;
    Done("w1", last, 0);
    last = id;
  }
  EXPECT_EQ(16, placed);
  EXPECT_EQ("QUEUED", State("big"));
  Done("w1", last, 0);  // w1 empties: big runs before the small job waiting behind it
  EXPECT_EQ("big@w1", Assignments());
}

TEST_F(PlacementTest, ReservedCapacityIsFreedWhenItsWorkerIsLostAndTheRunRequeued) {
  JoinWith("w1", 4, {.cpu_milli = 1000, .gpus = 1});
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitAsks({{"g", 1000, 0, 1}})));
  EXPECT_EQ("g@w1", Assignments());
  JoinWith("w2", 4, {.cpu_milli = 1000, .gpus = 1});
  EXPECT_EQ("w1 cpu 1000/1000 mem 0/0 gpu 1/1 w2 cpu 0/1000 mem 0/0 gpu 0/1", Reserved());
  Advance(4000, {"w2"});  // w1 is silent: lost, and g runs again on w2
  EXPECT_EQ("g@w2", Assignments());
  EXPECT_EQ("w2 cpu 1000/1000 mem 0/0 gpu 1/1", Reserved());
}

TEST_F(PlacementTest, ReservedCapacityIsFreedWhenARunFailsAndIsRetried) {
  JoinWith("w1", 4, {.memory_mb = 1024});
  wire::JobSubmitMsg req{.files = {JobFile()}};
  wire::JobSpec spec = Spec({.id = "r", .retries = 1});
  spec.memory_mb = 1024;
  req.jobs.push_back(spec);
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(Client(std::move(req).ToMessage())));
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitAsks({{"m", 0, 512}})));
  EXPECT_EQ("r@w1", Assignments());
  Done("w1", "r", 1);  // failed: backing off before its retry, m takes the memory meanwhile
  EXPECT_EQ("SCHEDULED", State("r"));
  EXPECT_EQ("m@w1", Assignments());
  EXPECT_EQ("w1 cpu 0/0 mem 512/1024 gpu 0/0", Reserved());
}

TEST_F(PlacementTest, AdoptedRunsHoldTheirCapacityAfterABrokerRestart) {
  JoinWith("w1", 4, {.cpu_milli = 2000});
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitAsks({{"a", 2000}})));
  EXPECT_EQ("a@w1", Assignments());
  Stop();
  Open();
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitAsks({{"b", 1000}})));
  JoinWith("w1", 4, {.cpu_milli = 2000}, {wire::JobRef{.id = "a", .attempt = 1}});
  EXPECT_EQ("RUNNING", State("a"));
  EXPECT_EQ("", Assignments());  // a holds all of w1's CPU again: b waits
  EXPECT_EQ("w1 cpu 2000/2000 mem 0/0 gpu 0/0", Reserved());
  Done("w1", "a", 0);
  EXPECT_EQ("b@w1", Assignments());
}

TEST_F(PlacementTest, UnsatisfiableRequestsSayWhyAndStayQueued) {
  JoinWith("w1", 4, {.cpu_milli = 2000, .memory_mb = 4096, .runtimes = {"python-3.11"}});
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitAsks({{"huge", 8000},
                                                {"limited", 0, 0, 0, 1, "", 64},
                                                {"rt", 0, 0, 0, 1, "python-3.12"},
                                                {"ok", 1000}})));
  EXPECT_EQ("ok@w1", Assignments());
  EXPECT_EQ(
      "it requests cpu 8 cores, more than any live worker with capability GENERAL has (the most: cpu 2 cores "
      "and "
      "memory 4096 MB); lower the request or start a worker with `titan worker --cpus 8`",
      Reason("huge"));
  EXPECT_EQ(
      "no live worker with capability GENERAL enforces memory limits (max_memory); run a worker that can "
      "(root, or a "
      "writable cgroup: docs/job-control.md) or drop max_memory",
      Reason("limited"));
  EXPECT_EQ(
      "no live worker with capability GENERAL offers runtime 'python-3.12'; start one with `titan worker "
      "--runtime "
      "python-3.12=PATH`",
      Reason("rt"));
  EXPECT_EQ("QUEUED", State("limited"));
  // A worker that can run them joins: they run.
  JoinWith("w2", 4, {.cpu_milli = 8000, .controls = {"cpu", "memory"}, .runtimes = {"python-3.12"}});
  EXPECT_EQ("huge@w2 limited@w2 rt@w2", Assignments());
}

TEST_F(PlacementTest, RequestsOutOfRangeAreInvalid) {
  JoinWith("w1", 4, {.cpu_milli = 2000});
  EXPECT_EQ(
      "INVALID: job 'n': cpu_milli -1 is out of range; use 0..1000000000 (a million cores; TitanJob(cpu=1.5) "
      "is 1500)",
      ErrorOf(SubmitAsks({{"n", -1}})));
  EXPECT_EQ("INVALID: job 'g': gpus 5000 is out of range; use 0..4096",
            ErrorOf(SubmitAsks({{"g", 0, 0, 5000}})));
  EXPECT_EQ("INVALID: job 'm': memory_mb -5 is out of range; use 0..1073741824 (MB)",
            ErrorOf(SubmitAsks({{"m", 0, -5}})));
}

TEST_F(PlacementTest, StatsDescribesEachRuntimeOnceOnTheFirstWorkerOfferingIt) {
  auto join = [&](const std::string& name, std::vector<std::string> runtimes) {
    wire::WorkerReadyMsg m{.name = name, .host = "h", .pid = 1, .slots = 1, .capabilities = {"GENERAL"}};
    m.runtimes = runtimes;
    m.runtime_info.emplace();
    for (const std::string& r : runtimes)
      m.runtime_info->push_back({.name = r, .size_bytes = 100, .packages = std::vector<std::string>{"a==1"}});
    core_->OnWorker("id-" + name, std::move(m).ToMessage(), now_);
    Turn();
  };
  join("w1", {"ml"});
  join("w2", {"ml", "py"});
  join("w3", {"ml"});
  const Result<wire::StatsMsg> stats = wire::StatsMsg::From(Client(wire::StatsGetMsg{}.ToMessage()));
  ASSERT_TRUE(stats.ok()) << stats.message();
  std::string described;
  for (const wire::WorkerInfo& w : stats->workers) {
    described += w.name + ":";
    for (const wire::RuntimeInfo& r : w.runtime_info.value_or(std::vector<wire::RuntimeInfo>{}))
      described += r.name + "(" + std::to_string(r.size_bytes.value_or(-1)) + ")";
    described += " ";
  }
  EXPECT_EQ("w1:ml(100) w2:py(100) w3: ", described);
  EXPECT_EQ(std::vector<std::string>{"ml"}, stats->workers[2].runtimes.value());  // still offered by each
}

}  // namespace
}  // namespace titan::broker
