// The broker's metrics (core_metrics.cc): jobs counted by outcome and capability as they move, their waits
// and run times from the fake clock, gauges of the state now, bounded labels, and what a restart resets.
#include <map>

#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class MetricsCoreTest : public BrokerCoreTest {
 protected:
  // Every sample of METRICS_GET's answer, "name{labels}" -> "value" (histograms: "sum count=N").
  std::map<std::string, std::string> Metrics() {
    const Result<wire::MetricsMsg> m = wire::MetricsMsg::From(Client(wire::MetricsGetMsg{}.ToMessage()));
    EXPECT_TRUE(m.ok()) << m.message();
    std::map<std::string, std::string> out;
    if (!m.ok()) return out;
    EXPECT_EQ("broker", m->node);
    const std::string text = metrics::Render(m->families);
    for (size_t at = 0; at < text.size();) {
      const size_t end = text.find('\n', at);
      const std::string line = text.substr(at, end - at);
      const size_t space = line.find(' ');
      out[line.substr(0, space)] = line.substr(space + 1);
      at = end + 1;
    }
    return out;
  }
  std::string Metric(const std::string& sample) {
    const auto all = Metrics();
    auto it = all.find(sample);
    return it == all.end() ? "absent" : it->second;
  }
};

TEST_F(MetricsCoreTest, JobsAreCountedByOutcomeAndCapabilityWithTheirWaitAndRunTime) {
  Submit({{.id = "a"}, {.id = "b", .requirement = "GPU"}, {.id = "c"}});
  now_ += 250;  // no worker yet: they wait
  Join("w1", 4, {"GENERAL", "GPU"});
  EXPECT_EQ("a@w1 c@w1 b@w1", Assignments());
  now_ += 1500;
  Done("w1", "a", 0);
  Done("w1", "b", 1);
  const auto m = Metrics();
  EXPECT_EQ("2", m.at("titan_jobs_submitted_total{GENERAL,job}"));
  EXPECT_EQ("1", m.at("titan_jobs_submitted_total{GPU,job}"));
  EXPECT_EQ("1", m.at("titan_jobs_finished_total{completed,GENERAL,job}"));
  EXPECT_EQ("1", m.at("titan_jobs_finished_total{failed,GPU,job}"));
  EXPECT_EQ(0u, m.count("titan_jobs_finished_total{completed,GPU,job}"));   // never happened: no sample
  EXPECT_EQ("500 count=2", m.at("titan_job_queue_wait_seconds{GENERAL}"));  // ms: 250 each
  EXPECT_EQ("250 count=1", m.at("titan_job_queue_wait_seconds{GPU}"));
  EXPECT_EQ("1500 count=1", m.at("titan_job_run_seconds{GENERAL}"));
  EXPECT_EQ("1", m.at("titan_jobs{running}"));
  EXPECT_EQ("1", m.at("titan_jobs{completed}"));
  EXPECT_EQ("1", m.at("titan_jobs{failed}"));
}

TEST_F(MetricsCoreTest, ARetriedAttemptIsARunTimeAndOnlyTheFinalOutcomeIsAFinish) {
  Join("w1", 1);
  Submit({{.id = "r", .retries = 1}});
  now_ += 100;
  Done("w1", "r", 1);  // attempt 1 fails: retried after a backoff
  Advance(1000, {"w1"});
  now_ += 300;
  Done("w1", "r", 0, 2);
  const auto m = Metrics();
  EXPECT_EQ("1", m.at("titan_jobs_finished_total{completed,GENERAL,job}"));
  EXPECT_EQ(0u, m.count("titan_jobs_finished_total{failed,GENERAL,job}"));
  EXPECT_NE(std::string::npos, m.at("titan_job_run_seconds{GENERAL}").find("count=2"));  // both attempts
  EXPECT_EQ("0 count=1",
            m.at("titan_job_queue_wait_seconds{GENERAL}"));  // the retry's wait is not a queue wait
}

TEST_F(MetricsCoreTest, GatesAndSkippedJobsHaveTheirOwnKindAndOutcome) {
  Join("w1", 2);
  Submit({{.id = "p", .hitl = "ok?"}, {.id = "child", .parents = {"p"}}}, "d");
  Done("w1", "p", 0);
  Client(wire::GateDecideMsg{.id = "hitl-gate-p", .approve = false}.ToMessage());
  const auto m = Metrics();
  EXPECT_EQ("1", m.at("titan_jobs_submitted_total{GENERAL,gate}"));
  EXPECT_EQ("1", m.at("titan_jobs_finished_total{failed,GENERAL,gate}"));
  EXPECT_EQ("1", m.at("titan_jobs_finished_total{skipped,GENERAL,job}"));
}

TEST_F(MetricsCoreTest, CapabilityLabelsAreBounded) {
  std::vector<JobArgs> jobs;
  for (size_t i = 0; i < BrokerMetrics::kMaxCapabilities + 8; ++i)
    jobs.push_back({.id = "j" + std::to_string(i), .requirement = "TAG" + std::to_string(i)});
  Submit(jobs);
  const auto m = Metrics();
  size_t labels = 0;
  for (const auto& [sample, value] : m) labels += sample.rfind("titan_jobs_submitted_total{", 0) == 0;
  EXPECT_EQ(BrokerMetrics::kMaxCapabilities + 1, labels);  // the first 32, and "other"
  EXPECT_EQ("8", m.at("titan_jobs_submitted_total{other,job}"));
  EXPECT_EQ("8", m.at("titan_queue_depth{other}"));
  EXPECT_EQ("1", m.at("titan_queue_depth{TAG0}"));
  EXPECT_EQ("40", m.at("titan_jobs_unsatisfiable"));
}

TEST_F(MetricsCoreTest, WorkersSlotsAndMachinesAreGaugesOfNow) {
  Join("w1", 4);
  Join("w2", 2);
  Submit({{.id = "a"}});
  core_->OnWorker("id-w1",
                  wire::HeartbeatMsg{.busy = 1,
                                     .machine = wire::MachineStats{.cpu_permille = 250,
                                                                   .mem_used_bytes = 3,
                                                                   .mem_total_bytes = 16,
                                                                   .load1_milli = 1500}}
                      .ToMessage(),
                  now_);
  Turn();
  Client(wire::WorkerStopMsg{.name = "w2"}.ToMessage());
  const auto m = Metrics();
  EXPECT_EQ("1", m.at("titan_workers{ready}"));
  EXPECT_EQ("1", m.at("titan_workers{draining}"));
  EXPECT_EQ("6", m.at("titan_slots"));
  EXPECT_EQ("1", m.at("titan_slots_busy"));
  EXPECT_EQ("250", m.at("titan_worker_cpu_ratio{w1}"));  // permille: scale 1000 in the family
  EXPECT_EQ("3", m.at("titan_worker_memory_used_bytes{w1}"));
  EXPECT_EQ("1500", m.at("titan_worker_load1{w1}"));
  EXPECT_EQ(0u, m.count("titan_worker_cpu_ratio{w2}"));  // never reported a machine
}

TEST_F(MetricsCoreTest, LogBytesArtifactReadsAndCommitsAreCounted) {
  Join("w1", 1);
  Submit({{.id = "a"}});
  std::string sha;
  for (const Outgoing& o : sent_) {
    if (o.msg.type == MsgType::kJobAssign) sha = wire::JobAssignMsg::From(o.msg)->file_sha256;
  }
  ASSERT_FALSE(sha.empty());
  core_->OnWorker("id-w1",
                  wire::JobLogMsg{.id = "a", .attempt = 1, .seq = 0, .stream = "stdout", .blobs = {"hello\n"}}
                      .ToMessage(),
                  now_);
  core_->OnWorker("id-w1", wire::ArtifactReadMsg{.sha256 = sha, .offset = 0, .length = 100}.ToMessage(), now_,
                  7);
  Turn();
  EXPECT_EQ("6", Metric("titan_log_bytes_total"));
  EXPECT_EQ("6", Metric("titan_artifact_sent_bytes_total"));  // "exit 0"
  Submit({{.id = "b"}});
  EXPECT_EQ(2, core_->TakeCommitRows().value_or(-1));  // b's row and its JOB_SUBMIT's audit row
  EXPECT_FALSE(core_->TakeCommitRows().has_value());   // taken once
  Turn();
  EXPECT_FALSE(core_->TakeCommitRows().has_value());  // a turn that wrote nothing committed nothing
}

TEST_F(MetricsCoreTest, ARestartStartsCountersAgainWhileStateGaugesAreFromTheJournal) {
  Join("w1", 1);
  Submit({{.id = "a"}});
  Done("w1", "a", 0);
  EXPECT_EQ("1", Metric("titan_jobs_finished_total{completed,GENERAL,job}"));
  EXPECT_EQ(std::to_string(now_.wall_ms), Metric("titan_node_start_time_seconds{broker}"));  // no time passed
  Stop();
  now_ += 5000;
  Open();
  EXPECT_EQ("absent", Metric("titan_jobs_finished_total{completed,GENERAL,job}"));
  EXPECT_EQ("1", Metric("titan_jobs{completed}"));
  EXPECT_EQ(std::to_string(now_.wall_ms), Metric("titan_node_start_time_seconds{broker}"));
}

}  // namespace
}  // namespace titan::broker
