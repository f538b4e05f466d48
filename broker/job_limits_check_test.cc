// Job limits at the broker: what the submit path refuses (INVALID, naming the field and what to write),
// and a run's usage kept with its job (JobInfo.usage, journaled: it survives a broker restart), with the
// job-control fields copied into JobInfo from the spec.
#include "broker/job_limits_check.h"

#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class JobLimitsBrokerTest : public BrokerCoreTest {
 protected:
  Message SubmitSpec(wire::JobSpec spec) {
    wire::JobSubmitMsg req{.files = {JobFile()}};
    req.jobs.push_back(std::move(spec));
    return Client(std::move(req).ToMessage());
  }
  wire::JobInfo Info(const std::string& id) {
    const Result<wire::JobInfoMsg> info =
        wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = id}.ToMessage()));
    return info.ok() && info->job ? *info->job : wire::JobInfo{};
  }
};

std::string Problem(void (*set)(wire::JobSpec&)) {
  wire::JobSpec spec{.id = "a", .file = "job.sh"};
  set(spec);
  return JobLimitsProblem(spec);
}

TEST(JobLimitsProblem, RefusesNegativeAbsurdAndMalformedLimits) {
  EXPECT_EQ("", Problem([](wire::JobSpec& s) {
              s.max_memory = 64, s.max_cpu = 150, s.cpu_cores = "0-1", s.max_iobps = 1 << 20,
              s.max_processes = 0;
            }));
  EXPECT_EQ("max_memory -1 is negative; use 0 (no limit) or 4..16777216 (MB)",
            Problem([](wire::JobSpec& s) { s.max_memory = -1; }));
  EXPECT_EQ("max_memory 2 is out of range; use 0 (no limit) or 4..16777216 (MB)",
            Problem([](wire::JobSpec& s) { s.max_memory = 2; }));
  EXPECT_EQ(
      "max_cpu 9999999 is out of range; use 0 (no limit) or 1..102400 (percent of one core: 150 is one and "
      "a half cores)",
      Problem([](wire::JobSpec& s) { s.max_cpu = 9999999; }));
  EXPECT_NE(std::string::npos,
            Problem([](wire::JobSpec& s) { s.max_iobps = -5; }).find("max_iobps -5 is negative"));
  EXPECT_NE(std::string::npos,
            Problem([](wire::JobSpec& s) { s.max_processes = int64_t{1} << 40; }).find("max_processes"));
  EXPECT_EQ(
      "cpu_cores '1-x' has '1-x', not a range N-M of CPU numbers (0-8191); write CPU numbers and ranges "
      "separated by commas, e.g. \"0-1\" or \"2,4\"",
      Problem([](wire::JobSpec& s) { s.cpu_cores = "1-x"; }));
}

TEST_F(JobLimitsBrokerTest, ASubmissionWithABadLimitIsInvalidAndNothingIsAccepted) {
  Join("w1", 4);
  wire::JobSpec spec = Spec({"a"});
  spec.max_memory = -64;
  EXPECT_EQ("INVALID: job 'a': max_memory -64 is negative; use 0 (no limit) or 4..16777216 (MB)",
            ErrorOf(SubmitSpec(spec)));
  EXPECT_EQ("UNKNOWN", State("a"));
}

TEST_F(JobLimitsBrokerTest, UsageIsKeptWithTheJobAndSurvivesARestart) {
  // A worker that enforces every limit (placement sends a job with limits only to such a worker).
  core_->OnWorker(
      "id-w1",
      wire::WorkerReadyMsg{.name = "w1",
                           .host = "h",
                           .pid = 1,
                           .slots = 4,
                           .capabilities = {"GENERAL"},
                           .controls = std::vector<std::string>{"memory", "cpu", "cpuset", "io", "pids"},
                           .limits_via = "cgroup v1"}
          .ToMessage(),
      now_);
  Turn();
  wire::JobSpec spec = Spec({"a"});
  spec.max_memory = 64;
  spec.max_cpu = 25;
  spec.cpu_cores = "0";
  spec.max_iobps = 1000;
  spec.max_processes = 10;
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitSpec(spec)));
  ASSERT_EQ("a@w1", Assignments());
  const wire::JobDoneMsg done{
      .result = {.id = "a",
                 .attempt = 1,
                 .exit_code = -1,
                 .signal = 9,
                 .cancelled = false,
                 .reason = "killed: memory limit 64 MB exceeded",
                 .usage = wire::JobUsage{
                     .peak_memory_bytes = 67108864, .cpu_ms = 250, .io_read_bytes = 1, .io_write_bytes = 2}}};
  core_->OnWorker("id-w1", done.ToMessage(), now_);
  Turn();
  auto check = [this](const char* when) {
    const wire::JobInfo info = Info("a");
    EXPECT_EQ("FAILED", info.state) << when;
    EXPECT_EQ("killed: memory limit 64 MB exceeded", info.reason.value_or("")) << when;
    ASSERT_TRUE(info.usage) << when;
    EXPECT_EQ(67108864, info.usage->peak_memory_bytes.value_or(0)) << when;
    EXPECT_EQ(250, info.usage->cpu_ms.value_or(0)) << when;
    EXPECT_EQ(1, info.usage->io_read_bytes.value_or(0)) << when;
    EXPECT_EQ(2, info.usage->io_write_bytes.value_or(0)) << when;
    EXPECT_EQ(64, info.max_memory.value_or(0)) << when;
    EXPECT_EQ(25, info.max_cpu.value_or(0)) << when;
    EXPECT_EQ("0", info.cpu_cores.value_or("")) << when;
    EXPECT_EQ(1000, info.max_iobps.value_or(0)) << when;
    EXPECT_EQ(10, info.max_processes.value_or(0)) << when;
  };
  check("before the restart");
  Stop();
  Open();
  check("after the restart");
}

TEST_F(JobLimitsBrokerTest, AJobWithoutLimitsOrUsageReportsNone) {
  Join("w1", 4);
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{"a"}}).type);
  Done("w1", "a", 0);
  const wire::JobInfo info = Info("a");
  EXPECT_EQ("COMPLETED", info.state);
  EXPECT_FALSE(info.usage);
  EXPECT_FALSE(info.max_memory || info.max_cpu || info.cpu_cores || info.max_iobps || info.max_processes);
}

}  // namespace
}  // namespace titan::broker
