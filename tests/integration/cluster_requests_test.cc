// Resource requests on real processes: a worker started with --cpus 2 runs two cpu=1 jobs at once and
// queues a third until one ends (read from the jobs' own start/end notes); a request no live worker can
// hold says so; GPUs through a fake nvidia-smi: the worker advertises GPU and 2, two gpus=1 jobs see
// different CUDA_VISIBLE_DEVICES, a third waits for one of them.
#include <stdlib.h>

#include <optional>
#include <set>

#include "schemas/generated/messages.h"
#include "tests/integration/cluster_fixture.h"

namespace titan::cluster_test {
namespace {

// Prints its CUDA_VISIBLE_DEVICES to marks/<id>.cuda, then behaves as block.sh.
std::string GpuSh() {
  return std::string("#!/bin/bash\n") +
         "echo \"${CUDA_VISIBLE_DEVICES-unset}\" > \"$T_DIR/marks/$TITAN_JOB_ID.cuda.tmp\"\n"
         "mv \"$T_DIR/marks/$TITAN_JOB_ID.cuda.tmp\" \"$T_DIR/marks/$TITAN_JOB_ID.cuda\"\n" +
         std::string(kBlockSh).substr(std::string(kBlockSh).find('\n') + 1);
}

// Answers `nvidia-smi -L` as a machine with two GPUs does; anything else (the heartbeat's query) prints
// nothing.
constexpr const char* kFakeNvidiaSmi = R"sh(#!/bin/sh
if [ "$1" = "-L" ]; then
  echo "GPU 0: Fake GPU (UUID: GPU-00000000-0000-0000-0000-000000000000)"
  echo "GPU 1: Fake GPU (UUID: GPU-11111111-1111-1111-1111-111111111111)"
fi
exit 0
)sh";

class RequestsTest : public ClusterTest {
 protected:
  JobSpec Requesting(const std::string& id, const std::string& file, const char* field, int64_t amount) {
    JobSpec j = Job(id, file);
    j.extra.push_back({field, Datum(amount)});
    return j;
  }

  testing::SubmitResult SubmitWith(const std::vector<JobSpec>& jobs) {
    return c_.Submit(jobs, {{"block.sh", kBlockSh}, {"gpu.sh", GpuSh()}});
  }

  // The worker's WorkerInfo from STATS.
  std::optional<wire::WorkerInfo> Info(const std::string& name) {
    wire::Message reply;
    if (!c_.Call(wire::StatsGetMsg{}.ToMessage(), &reply)) return std::nullopt;
    const Result<wire::StatsMsg> stats = wire::StatsMsg::From(reply);
    if (!stats.ok()) return std::nullopt;
    for (const wire::WorkerInfo& w : stats->workers) {
      if (w.name == name) return w;
    }
    return std::nullopt;
  }

  // The largest number of jobs events.log shows running at once (starts minus ends, in file order), and
  // the position of each line.
  int MostAtOnce() {
    int running = 0, most = 0;
    for (const std::string& line : testing::ReadLines(c_.Path("events.log"))) {
      running += line.rfind("start ", 0) == 0 ? 1 : line.rfind("end ", 0) == 0 ? -1 : 0;
      most = std::max(most, running);
    }
    return most;
  }
  size_t LineOf(const std::string& line) {
    const auto lines = testing::ReadLines(c_.Path("events.log"));
    return static_cast<size_t>(std::find(lines.begin(), lines.end(), line) - lines.begin());
  }
};

TEST_F(RequestsTest, ATwoCpuWorkerRunsTwoOneCpuJobsAndQueuesAThirdUntilOneEnds) {
  ASSERT_TRUE(c_.AddWorker("w1", 8, {}, {"--cpus", "2"})) << c_.error();
  const std::optional<wire::WorkerInfo> info = Info("w1");
  ASSERT_TRUE(info);
  EXPECT_EQ(2000, info->cpu_milli.value_or(0));
  EXPECT_GT(info->memory_mb.value_or(0), 0) << "detected from MemTotal";

  const testing::SubmitResult r = SubmitWith({Requesting("a", "block.sh", "cpu_milli", 1000),
                                              Requesting("b", "block.sh", "cpu_milli", 1000),
                                              Requesting("c", "block.sh", "cpu_milli", 1000)});
  ASSERT_EQ("", r.error_code) << r.error;
  ASSERT_TRUE(WaitStarted({"a", "b"}, In(kDeadline))) << MarkCount() << " jobs started";
  // a and b hold both CPUs: c waits although w1 has free slots.
  const JobView c = c_.Get("c");
  EXPECT_EQ("QUEUED", c.state) << c.Render();
  EXPECT_EQ(2000, Info("w1")->cpu_milli_reserved.value_or(-1));
  EXPECT_FALSE(std::filesystem::exists(c_.Path("marks/c")));

  Release();
  ExpectAllCompleted({"a", "b", "c"});
  EXPECT_EQ(2, MostAtOnce()) << testing::ReadFile(c_.Path("events.log"));
  EXPECT_GT(LineOf("start c"), std::min(LineOf("end a"), LineOf("end b")))
      << testing::ReadFile(c_.Path("events.log"));
  EXPECT_EQ(0, Info("w1")->cpu_milli_reserved.value_or(-1));
}

TEST_F(RequestsTest, ARequestNoLiveWorkerCanHoldSaysWhyAndWaits) {
  ASSERT_TRUE(c_.AddWorker("w1", 4, {}, {"--cpus", "2", "--memory", "1024"})) << c_.error();
  JobSpec runtime = Job("rt", "block.sh");
  runtime.extra.push_back({"runtime", Datum(Text{"no-such-runtime"})});
  const testing::SubmitResult r = SubmitWith({Requesting("huge", "block.sh", "memory_mb", 4096), runtime});
  ASSERT_EQ("", r.error_code) << r.error;
  const JobView huge = c_.Get("huge");
  EXPECT_EQ("QUEUED", huge.state);
  EXPECT_EQ(
      "it requests memory 4096 MB, more than any live worker with capability GENERAL has (the most: cpu 2 "
      "cores and "
      "memory 1024 MB); lower the request or start a worker with `titan worker --memory 4096`",
      huge.reason);
  EXPECT_NE(std::string::npos, c_.Get("rt").reason.find("offers runtime 'no-such-runtime'"))
      << c_.Get("rt").Render();
  // A request out of range is refused at once.
  const testing::SubmitResult bad = SubmitWith({Requesting("neg", "block.sh", "gpus", -1)});
  EXPECT_EQ("INVALID", bad.error_code);
  EXPECT_NE(std::string::npos, bad.error.find("gpus -1 is out of range")) << bad.error;
  // A worker large enough joins: it runs there.
  ASSERT_TRUE(c_.AddWorker("big", 4, {}, {"--memory", "8192"})) << c_.error();
  ASSERT_TRUE(WaitStarted({"huge"}, In(kDeadline)));
  EXPECT_EQ("big", c_.Get("huge").worker);
  Release();
  EXPECT_EQ("COMPLETED", c_.WaitFinal("huge", In(kDeadline)).state);
}

TEST_F(RequestsTest, GpuJobsGetTheirOwnDevicesFromAFakeNvidiaSmi) {
  const std::string bin = c_.Path("fakebin");
  std::filesystem::create_directories(bin);
  std::ofstream(bin + "/nvidia-smi") << kFakeNvidiaSmi;
  std::filesystem::permissions(bin + "/nvidia-smi", std::filesystem::perms::owner_all);
  const std::string path = getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin";
  setenv("PATH", (bin + ":" + path).c_str(), 1);  // the worker inherits it
  const bool started = c_.AddWorker("g1", 4);
  setenv("PATH", path.c_str(), 1);
  ASSERT_TRUE(started) << c_.error();
  const std::optional<wire::WorkerInfo> info = Info("g1");
  ASSERT_TRUE(info);
  EXPECT_EQ(2, info->gpus.value_or(0));
  EXPECT_NE(info->capabilities.end(), std::find(info->capabilities.begin(), info->capabilities.end(), "GPU"));

  std::vector<JobSpec> jobs;
  for (const char* id : {"g-a", "g-b", "g-c"}) {
    JobSpec j = Requesting(id, "gpu.sh", "gpus", 1);
    j.requirement = "GPU";
    jobs.push_back(j);
  }
  ASSERT_EQ("", SubmitWith(jobs).error_code);
  ASSERT_TRUE(WaitStarted({"g-a", "g-b"}, In(kDeadline))) << MarkCount() << " jobs started";
  const std::string a = testing::ReadLines(c_.Path("marks/g-a.cuda")).at(0);
  const std::string b = testing::ReadLines(c_.Path("marks/g-b.cuda")).at(0);
  EXPECT_EQ((std::set<std::string>{"0", "1"}), (std::set<std::string>{a, b}));
  EXPECT_EQ("QUEUED", c_.Get("g-c").state);
  EXPECT_EQ(2, Info("g1")->gpus_reserved.value_or(-1));

  Release();
  ExpectAllCompleted({"g-a", "g-b", "g-c"});
  const std::string c = testing::ReadLines(c_.Path("marks/g-c.cuda")).at(0);
  EXPECT_TRUE(c == "0" || c == "1") << c;
  EXPECT_GT(LineOf("start g-c"), std::min(LineOf("end g-a"), LineOf("end g-b")));
}

}  // namespace
}  // namespace titan::cluster_test
