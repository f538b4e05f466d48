// A whole Titan on loopback (store, broker, workers as real processes): where jobs are placed —
// least load, strict capability, affinity, priority, delay, and the slot cap.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/integration/cluster_fixture.h"

namespace titan::cluster_test {
namespace {
// 1. Least load: two idle 4-slot workers share 8 jobs 4 and 4.
TEST_F(ClusterTest, LeastLoadSpreadsJobsEvenly) {
  AddWorker("w1", 4);
  AddWorker("w2", 4);
  std::vector<JobSpec> jobs;
  for (int i = 0; i < 8; ++i) jobs.push_back(Job("spread-" + std::to_string(i), "block.sh"));
  const auto ids = Submit(jobs);
  ASSERT_EQ(8u, ids.size());
  ASSERT_TRUE(WaitStarted(ids, In(kDeadline))) << MarkCount() << " of 8 jobs started";

  std::map<std::string, int> per_worker;
  for (const auto& id : ids) {
    const JobView v = c_.Get(id);
    EXPECT_EQ("RUNNING", v.state) << v.Render();
    ++per_worker[v.worker];
  }
  EXPECT_EQ((std::map<std::string, int>{{"w1", 4}, {"w2", 4}}), per_worker);
  const StatsView s = c_.Stats();
  ASSERT_EQ("", s.error);
  EXPECT_EQ(8, s.running);
  ASSERT_NE(nullptr, s.Worker("w1"));
  ASSERT_NE(nullptr, s.Worker("w2"));
  EXPECT_EQ(4, s.Worker("w1")->busy);
  EXPECT_EQ(4, s.Worker("w2")->busy);

  Release();
  ExpectAllCompleted(ids);
}

// 2. Strict capability: a GPU job waits (and says why) while GENERAL work flows, then runs on the
// GPU worker as soon as one joins.
TEST_F(ClusterTest, CapabilityRoutingIsStrict) {
  AddWorker("w1", 4);
  const StatsView before = c_.Stats();
  ASSERT_NE(nullptr, before.Worker("w1")) << before.error;
  const auto& caps = before.Worker("w1")->capabilities;
  if (std::find(caps.begin(), caps.end(), "GPU") != caps.end()) GTEST_SKIP() << "this machine has a GPU";

  JobSpec gpu = Job("gpu-job", "quick.sh");
  gpu.requirement = "GPU";
  ASSERT_EQ(1u, Submit({gpu}).size());
  const JobView queued = c_.Get("gpu-job");
  EXPECT_EQ("QUEUED", queued.state) << queued.Render();
  EXPECT_NE(std::string::npos, queued.reason.find("no live worker has capability GPU")) << queued.Render();
  StatsView s = c_.Stats();
  EXPECT_EQ(1, s.unsatisfiable);
  EXPECT_EQ(1, s.queued);

  // Other work is not held up behind it.
  ASSERT_EQ(1u, Submit({Job("general-job", "quick.sh")}).size());
  const JobView general = c_.WaitFinal("general-job", In(kDeadline));
  EXPECT_EQ("COMPLETED", general.state) << general.Render();
  EXPECT_EQ("w1", general.worker);
  EXPECT_EQ("QUEUED", c_.Get("gpu-job").state);
  EXPECT_FALSE(std::filesystem::exists(c_.Path("times/gpu-job")));

  AddWorker("gpu1", 2, {"GPU"});
  const JobView ran = c_.WaitFinal("gpu-job", In(kDeadline));
  EXPECT_EQ("COMPLETED", ran.state) << ran.Render();
  EXPECT_EQ("gpu1", ran.worker);
  s = c_.Stats();
  EXPECT_EQ(0, s.unsatisfiable);
  EXPECT_EQ(0, s.queued);
}

// 3. Affinity: the parent can only run on w2 (capability); its affinity child follows it there,
// while a sibling without affinity goes to the least loaded worker, w1.
TEST_F(ClusterTest, AffinityKeepsChildOnParentsWorker) {
  AddWorker("w1", 4);
  AddWorker("w2", 4, {"SPECIAL"});
  JobSpec parent = Job("parent", "quick.sh");
  parent.requirement = "SPECIAL";
  JobSpec child = Job("child", "quick.sh");
  child.parents = {"parent"};
  child.affinity = true;
  JobSpec sibling = Job("sibling", "quick.sh");
  sibling.parents = {"parent"};
  ASSERT_EQ(3u, Submit({parent, child, sibling}).size());

  const Deadline deadline = In(kDeadline);
  const JobView p = c_.WaitFinal("parent", deadline);
  const JobView ch = c_.WaitFinal("child", deadline);
  const JobView sib = c_.WaitFinal("sibling", deadline);
  EXPECT_EQ("COMPLETED", p.state) << p.Render();
  EXPECT_EQ("COMPLETED", ch.state) << ch.Render();
  EXPECT_EQ("COMPLETED", sib.state) << sib.Render();
  EXPECT_EQ("w2", p.worker);
  EXPECT_EQ("w2", ch.worker) << "the affinity child left its parent's worker";
  EXPECT_EQ("w1", sib.worker) << "without affinity, the idle worker should have been chosen";
  EXPECT_GE(ch.started_ms, p.finished_ms);
}

// 4. Priority: with the only slot busy, low, high and mid queue up; they then run high, mid, low.
TEST_F(ClusterTest, HigherPriorityRunsFirst) {
  AddWorker("w1", 1);
  ASSERT_EQ(1u, Submit({Job("blocker", "block.sh")}).size());
  ASSERT_TRUE(WaitStarted({"blocker"}, In(kDeadline)));
  for (const auto& [id, prio] :
       std::vector<std::pair<std::string, int64_t>>{{"low", 1}, {"high", 10}, {"mid", 5}}) {
    JobSpec j = Job(id, "quick.sh");
    j.priority = prio;
    ASSERT_EQ(1u, Submit({j}).size());
    EXPECT_EQ("QUEUED", c_.Get(id).state);
  }
  Release();
  ExpectAllCompleted({"blocker", "high", "mid", "low"});
  EXPECT_EQ((std::vector<std::string>{"high", "mid", "low"}), testing::ReadLines(c_.Path("ran.log")));
  const JobView high = c_.Get("high"), mid = c_.Get("mid"), low = c_.Get("low");
  EXPECT_LE(high.started_ms, mid.started_ms);
  EXPECT_LE(mid.started_ms, low.started_ms);
}

// 5. Delay: a job delayed 1500 ms is SCHEDULED, and neither the broker nor the job itself sees it
// start earlier than 1500 ms after submission.
TEST_F(ClusterTest, DelayIsHonoured) {
  AddWorker("w1", 2);
  JobSpec j = Job("delayed", "quick.sh");
  j.delay_ms = 1500;
  ASSERT_EQ(1u, Submit({j}).size());
  const JobView scheduled = c_.Get("delayed");
  EXPECT_EQ("SCHEDULED", scheduled.state) << scheduled.Render();
  const JobView v = c_.WaitFinal("delayed", In(kDeadline));
  ASSERT_EQ("COMPLETED", v.state) << v.Render();
  EXPECT_GE(v.started_ms - v.submitted_ms, 1500) << v.Render();
  const int64_t job_started_ms = std::stoll("0" + testing::ReadFile(c_.Path("times/delayed")));
  EXPECT_GE(job_started_ms - v.submitted_ms, 1500);
}

// 6. Slot cap: 12 jobs on one 4-slot worker never run more than 4 at a time, by the broker's events
// and by the jobs' own log; all 12 complete.
TEST_F(ClusterTest, SlotCapIsNeverExceeded) {
  AddWorker("w1", 4);
  testing::EventFeed feed(c_.context(), c_.Endpoint(c_.pub_port()), {"job."});
  ASSERT_TRUE(feed.Sync(In(kDeadline))) << "no event from the broker";

  std::vector<JobSpec> jobs;
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    jobs.push_back(Job("cap-" + std::to_string(i), "block.sh", "go 0.2"));
    ids.push_back(jobs.back().id);
  }
  ASSERT_EQ(12u, Submit(jobs).size());
  // The first four block on the gate: the worker is full, and nothing else may have started.
  ASSERT_TRUE(WaitStarted({ids.begin(), ids.begin() + 4}, In(kDeadline))) << MarkCount() << " started";
  const StatsView full = c_.Stats();
  EXPECT_EQ(4, full.running);
  EXPECT_EQ(8, full.queued);
  EXPECT_EQ(4u, MarkCount());
  Release();

  // Follow the broker's events until every job has ended.
  std::set<std::string> running, done;
  size_t max_running = 0;
  const Deadline deadline = In(kDeadline);
  while (done.size() < ids.size()) {
    const auto e = feed.Next(deadline);
    ASSERT_TRUE(e.has_value()) << done.size() << " of 12 jobs ended before the deadline";
    if (e->msg.type != MsgType::kEventJob) continue;
    const std::string id(e->msg.Bytes("id")), state(e->msg.Bytes("state"));
    if (state == "RUNNING") running.insert(id);
    if (state == "COMPLETED" || state == "FAILED" || state == "CANCELLED" || state == "DEAD") {
      running.erase(id);
      done.insert(id);
      EXPECT_EQ("COMPLETED", state) << id;
    }
    max_running = std::max(max_running, running.size());
  }
  EXPECT_LE(max_running, 4u);

  // The jobs' own view: starts and ends in the order they happened.
  int now = 0, peak = 0, starts = 0;
  for (const auto& line : testing::ReadLines(c_.Path("events.log"))) {
    if (line.rfind("start ", 0) == 0) ++starts, peak = std::max(peak, ++now);
    if (line.rfind("end ", 0) == 0) --now;
  }
  EXPECT_EQ(12, starts);
  EXPECT_EQ(4, peak);
  EXPECT_EQ(12, c_.Stats().completed);
}

}  // namespace
}  // namespace titan::cluster_test
