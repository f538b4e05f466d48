// A whole Titan on loopback (store, broker, workers as real processes): 100 MB of output, stopping
// process trees, losing a worker or the broker, and what broke along the way. Placement is in
// cluster_placement_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "tests/integration/cluster_fixture.h"

namespace titan::cluster_test {
namespace {

// Prints exactly 100,000,000 bytes: 1,000,000 lines of 100 bytes (see ExpectedLog).
constexpr const char* kBigPy = R"(import sys
out = sys.stdout.buffer
for start in range(0, 1000000, 10000):
    out.write(b"".join(b"%010d:" % i + (b"%08x" % ((i * 2654435761) & 0xffffffff)) * 11 + b"\n"
                       for i in range(start, start + 10000)))
out.flush()
)";

constexpr int64_t kBigLines = 1000000, kBigLineBytes = 100, kBigBytes = kBigLines * kBigLineBytes;

// Bytes [offset, offset + n) of what big.py prints.
std::string ExpectedLog(int64_t offset, int64_t n) {
  std::string out;
  char line[kBigLineBytes + 1];
  for (int64_t i = offset / kBigLineBytes;
       static_cast<int64_t>(out.size()) < n + kBigLineBytes && i < kBigLines; ++i) {
    int len = std::snprintf(line, sizeof line, "%010lld:", static_cast<long long>(i));
    const unsigned h = static_cast<unsigned>((static_cast<uint64_t>(i) * 2654435761ULL) & 0xffffffffULL);
    for (int k = 0; k < 11; ++k) len += std::snprintf(line + len, sizeof line - len, "%08x", h);
    out.append(line, static_cast<size_t>(len));
    out.push_back('\n');
  }
  const int64_t skip = offset % kBigLineBytes;
  return out.substr(static_cast<size_t>(skip), static_cast<size_t>(std::min<int64_t>(n, kBigBytes - offset)));
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void Update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  std::string Hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, digest, &len);
    std::string out;
    for (unsigned i = 0; i < len; ++i)
      out += "0123456789abcdef"[digest[i] >> 4], out += "0123456789abcdef"[digest[i] & 15];
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// True once `pid` no longer runs (gone, or a zombie nobody reaped yet).
bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  const std::string stat = testing::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() &&
         (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X');
}

// 7. 100 MB of stdout reaches the broker's log intact, read back in 2 MiB chunks.
TEST_F(ClusterTest, HundredMegabytesOfStdoutCapturedIntact) {
  AddWorker("w1", 1);
  JobSpec j;
  j.id = "big";
  j.file = "big.py";
  const testing::SubmitResult r = c_.Submit({j}, {{"big.py", kBigPy}});
  ASSERT_EQ("", r.error_code) << r.error;
  const JobView v = c_.WaitFinal("big", In(90s));
  ASSERT_EQ("COMPLETED", v.state) << v.Render();

  constexpr int64_t kChunk = 2 * 1024 * 1024;
  Sha256 got, want;
  int64_t offset = 0, first_mismatch = -1;
  bool complete = false;
  const Deadline deadline = In(25s);
  while (!complete) {
    ASSERT_GT(testing::MillisLeft(deadline), 0) << "reading the log took too long; at offset " << offset;
    wire::Message reply;
    ASSERT_TRUE(c_.Call(wire::MakeMessage(MsgType::kJobLogs)
                            .Set("id", Datum(Text{"big"}))
                            .Set("offset", Datum(offset))
                            .Set("max_bytes", Datum(kChunk)),
                        &reply))
        << c_.error();
    ASSERT_EQ(MsgType::kJobLogData, reply.type) << reply.Bytes("reason");
    ASSERT_EQ(1u, reply.blobs.size());
    const std::string& data = reply.blobs.front();
    ASSERT_LE(static_cast<int64_t>(data.size()), kChunk);
    ASSERT_EQ(offset, reply.Int("offset"));
    ASSERT_EQ(offset + static_cast<int64_t>(data.size()), reply.Int("next_offset"));
    complete = reply.Bool("complete");
    if (data.empty() && !complete) FAIL() << "no progress at offset " << offset;
    ASSERT_LE(offset + static_cast<int64_t>(data.size()), kBigBytes) << "the log is longer than the output";
    const std::string expected = ExpectedLog(offset, static_cast<int64_t>(data.size()));
    if (first_mismatch < 0 && data != expected) {
      const auto diff = std::mismatch(data.begin(), data.end(), expected.begin());
      first_mismatch = offset + (diff.first - data.begin());
    }
    got.Update(data);
    want.Update(expected);
    offset += static_cast<int64_t>(data.size());
  }
  EXPECT_EQ(kBigBytes, offset);
  EXPECT_EQ(-1, first_mismatch) << "first differing byte";
  EXPECT_EQ(want.Hex(), got.Hex());
}

// 8. JOB_STOP ends the job's whole process tree, including a background grandchild.
TEST_F(ClusterTest, StopKillsTheWholeProcessTree) {
  AddWorker("w1", 2);
  ASSERT_EQ(1u, Submit({Job("tree", "tree.sh")}).size());
  const std::string pid_file = c_.Path("marks/tree.pid");
  ASSERT_TRUE(testing::WaitForFiles(
      c_.Path("marks"), [&] { return std::filesystem::exists(pid_file); }, In(kDeadline)));
  const pid_t grandchild = static_cast<pid_t>(std::stol(testing::ReadFile(pid_file)));
  ASSERT_GT(grandchild, 1);
  // A pidfd follows this very process, whatever happens to the pid number later.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, grandchild, 0));
  ASSERT_GE(pidfd, 0) << "grandchild " << grandchild << " is not running: " << std::strerror(errno);
  EXPECT_EQ("RUNNING", c_.Get("tree").state);

  const JobView stopping = c_.Stop("tree");
  EXPECT_TRUE(stopping.found) << stopping.Render();
  const JobView v = c_.WaitFinal("tree", In(kDeadline));
  EXPECT_EQ("CANCELLED", v.state) << v.Render();

  pollfd p{pidfd, POLLIN, 0};
  const int exited = poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kDeadline).count()));
  close(pidfd);
  EXPECT_EQ(1, exited) << "grandchild " << grandchild << " survived JOB_STOP";
  EXPECT_TRUE(ProcessGone(grandchild));
  if (exited != 1) kill(grandchild, SIGKILL);
}

// 9. A worker killed with SIGKILL: the broker notices, requeues its jobs, and they all complete on
// the surviving worker; none is lost.
TEST_F(ClusterTest, JobsOfAKilledWorkerFinishOnTheSurvivor) {
  AddWorker("w1", 4);
  AddWorker("w2", 4);
  std::vector<JobSpec> jobs;
  for (int i = 0; i < 8; ++i) jobs.push_back(Job("lost-" + std::to_string(i), "block.sh"));
  const auto ids = Submit(jobs);
  ASSERT_EQ(8u, ids.size());
  ASSERT_TRUE(WaitStarted(ids, In(kDeadline)));
  std::set<std::string> on_w1;
  for (const auto& id : ids) {
    if (c_.Get(id).worker == "w1") on_w1.insert(id);
  }
  ASSERT_FALSE(on_w1.empty());

  c_.worker("w1")->Kill(SIGKILL);
  // The broker declares w1 dead after 3 missed heartbeats and requeues its jobs (w2 is full).
  ASSERT_TRUE(c_.WaitFor(
      [&] {
        return std::all_of(on_w1.begin(), on_w1.end(),
                           [&](const std::string& id) { return c_.Get(id).state == "QUEUED"; });
      },
      In(kDeadline)))
      << c_.Get(*on_w1.begin()).Render();
  const StatsView s = c_.Stats();
  EXPECT_EQ(nullptr, s.Worker("w1")) << "a dead worker is still listed";
  EXPECT_EQ(static_cast<int64_t>(on_w1.size()), s.queued);

  Release();
  const Deadline deadline = In(kDeadline);
  for (const auto& id : ids) {
    const JobView v = c_.WaitFinal(id, deadline);
    EXPECT_EQ("COMPLETED", v.state) << v.Render();
    EXPECT_EQ("w2", v.worker) << v.Render();
    EXPECT_EQ(on_w1.count(id) ? 2 : 1, v.attempt) << v.Render();
  }
}

// A cluster whose workers keep their runs through a broker restart: their fencing lease ((liveness - 1.5)
// heartbeats, here 9.7 s) is longer than the restart takes. With the default (1.5 heartbeats) they would
// kill their runs and the new broker would run them again.
class BrokerRestartTest : public ClusterTest {
 protected:
  std::vector<std::string> BrokerArgs() const override { return {"--liveness", "50"}; }
};

// 10. kill -9 of the broker: a new broker on the same directory and ports knows every accepted job,
// adopts the runs its worker kept going, and every job completes exactly once.
TEST_F(BrokerRestartTest, BrokerKilledAndRestartedLosesNothing) {
  AddWorker("w1", 2);
  std::vector<JobSpec> jobs;
  for (int i = 0; i < 5; ++i) jobs.push_back(Job("durable-" + std::to_string(i), "block.sh"));
  const auto ids = Submit(jobs);
  ASSERT_EQ(5u, ids.size());
  const std::vector<std::string> running = {ids[0], ids[1]};  // FIFO within a priority
  ASSERT_TRUE(WaitStarted(running, In(kDeadline)));
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(i < 2 ? "RUNNING" : "QUEUED", c_.Get(ids[i]).state);

  c_.broker()->Kill(SIGKILL);
  ASSERT_TRUE(c_.RestartBroker()) << c_.error();
  for (size_t i = 0; i < ids.size(); ++i) {
    const JobView v = c_.Get(ids[i]);
    EXPECT_TRUE(v.found) << ids[i] << " was forgotten: " << v.Render();
    EXPECT_EQ(i < 2 ? "RUNNING" : "QUEUED", v.state) << v.Render();
  }
  // The worker finds the new broker and reports the two runs it kept going.
  ASSERT_TRUE(c_.WaitFor(
      [&] {
        const StatsView s = c_.Stats();
        const testing::WorkerView* w = s.Worker("w1");
        return w != nullptr && w->running == running;
      },
      In(kDeadline)))
      << "w1 did not rejoin with its two runs";

  Release();
  const Deadline deadline = In(kDeadline);
  for (const auto& id : ids) {
    const JobView v = c_.WaitFinal(id, deadline);
    EXPECT_EQ("COMPLETED", v.state) << v.Render();
    EXPECT_EQ(1, v.attempt) << v.Render();
    EXPECT_EQ(1, CountEvents("start", id)) << id;
    EXPECT_EQ(1, CountEvents("end", id)) << id;
  }
  EXPECT_EQ(5, c_.Stats().completed);
}

// A worker frozen past the liveness window (SIGSTOP: a long GC pause, a VM migration) is declared
// lost and its job requeued; when it thaws and re-registers it is the only worker, so it is told to
// cancel the old run and given the job again. The job must still complete. (The old run ignores
// SIGTERM, so it is still alive when the new attempt arrives, as a job with a cleanup handler would be.)
TEST_F(ClusterTest, WorkerThatStallsAndReturnsStillCompletesItsJob) {
  AddWorker("w1", 2);
  JobSpec stubborn = Job("stalled", "block.sh");
  stubborn.env.push_back("T_IGNORE_TERM=1");
  ASSERT_EQ(1u, Submit({stubborn}).size());
  ASSERT_TRUE(WaitStarted({"stalled"}, In(kDeadline)));
  const pid_t w1 = c_.worker("w1")->pid();
  ASSERT_EQ(0, kill(w1, SIGSTOP));
  const JobView requeued = c_.WaitJob(
      "stalled", [](const JobView& v) { return v.state == "QUEUED"; }, In(kDeadline));
  kill(w1, SIGCONT);
  ASSERT_EQ("QUEUED", requeued.state) << requeued.Render();
  // Once w1 is back the job is placed again (or adopted); only then open the gate, so the old run
  // is still alive on w1 when that happens.
  const JobView again = c_.WaitJob(
      "stalled", [](const JobView& v) { return v.state == "RUNNING" || v.final(); }, In(kDeadline));
  EXPECT_EQ("RUNNING", again.state) << again.Render();
  Release();
  const JobView v = c_.WaitFinal("stalled", In(kDeadline));
  EXPECT_EQ("COMPLETED", v.state) << v.Render();
  EXPECT_EQ("w1", v.worker);
}

// Regression (the chaos run): a worker resumed after a stall past its lease started the assignments
// queued in its socket during the stall, which the broker had given to another worker meanwhile, so two
// copies ran. It now refuses them until the broker answers its new registration. The jobs ignore SIGTERM:
// a copy started by mistake would live on (and be counted) however soon the broker cancels it.
TEST_F(ClusterTest, AWorkerResumedPastItsLeaseStartsNoAssignmentGivenAway) {
  AddWorker("w1", 4);
  const pid_t w1 = c_.worker("w1")->pid();
  ASSERT_EQ(0, kill(w1, SIGSTOP));
  std::vector<JobSpec> jobs;
  for (int i = 0; i < 3; ++i) {
    JobSpec job = Job("given-away-" + std::to_string(i), "block.sh");
    job.env.push_back("T_IGNORE_TERM=1");
    jobs.push_back(job);
  }
  const auto ids = Submit(jobs);
  ASSERT_EQ(3u, ids.size());
  // Assigned to w1, which the broker still believes alive: the assignments wait in w1's socket.
  ASSERT_TRUE(c_.WaitFor(
      [&] {
        return std::all_of(ids.begin(), ids.end(), [&](const std::string& id) {
          const JobView v = c_.Get(id);
          return v.state == "RUNNING" && v.worker == "w1";
        });
      },
      In(kDeadline)));
  AddWorker("w2", 4);
  ASSERT_TRUE(WaitStarted(ids, In(kDeadline)));  // w1 was declared lost; w2 runs them (attempt 2)
  kill(w1, SIGCONT);
  ASSERT_TRUE(c_.WaitFor([&] { return c_.Stats().Worker("w1") != nullptr; }, In(kDeadline)))
      << "w1 did not register again";
  Release();
  const Deadline deadline = In(kDeadline);
  for (const auto& id : ids) {
    const JobView v = c_.WaitFinal(id, deadline);
    EXPECT_EQ("COMPLETED", v.state) << v.Render();
    EXPECT_EQ("w2", v.worker) << v.Render();
    EXPECT_EQ(2, v.attempt) << v.Render();
    EXPECT_EQ(1, CountEvents("start", id)) << id << " was started by w1 too";
  }
}

// Jobs that end while the broker is down: the worker keeps their results and hands them to the new
// broker, which completes each job once (no second run).
TEST_F(BrokerRestartTest, ResultsReadyWhileTheBrokerIsDownAreKept) {
  AddWorker("w1", 2);
  const auto ids = Submit({Job("outage-0", "block.sh"), Job("outage-1", "block.sh")});
  ASSERT_EQ(2u, ids.size());
  ASSERT_TRUE(WaitStarted(ids, In(kDeadline)));
  c_.broker()->Kill(SIGKILL);
  Release();
  ASSERT_TRUE(testing::WaitForFiles(
      c_.dir().path(), [&] { return CountEvents("end", ids[0]) == 1 && CountEvents("end", ids[1]) == 1; },
      In(kDeadline)));
  ASSERT_TRUE(c_.RestartBroker()) << c_.error();
  const Deadline deadline = In(kDeadline);
  for (const auto& id : ids) {
    const JobView v = c_.WaitFinal(id, deadline);
    EXPECT_EQ("COMPLETED", v.state) << v.Render();
    EXPECT_EQ(1, v.attempt) << v.Render();
    EXPECT_EQ(1, CountEvents("start", id)) << id;
  }
  ASSERT_EQ(1u, Submit({Job("after-outage", "quick.sh")}).size());
  EXPECT_EQ("COMPLETED", c_.WaitFinal("after-outage", In(kDeadline)).state);
}

// A msgpack map has no key order, and other clients may send a JobSpec with "id" not first. Two such
// jobs of the same file must both run, and stopping one must reach its process.
TEST_F(ClusterTest, JobSpecKeyOrderDoesNotMatter) {
  AddWorker("w1", 2);
  auto spec = [&](const std::string& id) {
    return Datum(wire::Map{{"file", Datum(Text{"block.sh"})},
                           {"env", Datum(wire::List{Datum(Text{"T_DIR=" + c_.dir().path()})})},
                           {"id", Datum(Text{id})}});
  };
  wire::Message reply;
  ASSERT_TRUE(c_.Call(
      wire::MakeMessage(MsgType::kJobSubmit)
          .Set("jobs", Datum(wire::List{spec("order-a"), spec("order-b")}))
          .Set("files", Datum(wire::List{Datum(wire::Map{{"name", Datum(Text{"block.sh"})},
                                                         {"content", Datum(wire::Bytes{kBlockSh})}})})),
      &reply))
      << c_.error();
  ASSERT_EQ(MsgType::kJobAccepted, reply.type) << reply.Bytes("reason");
  // Both start within 10 s (they start in well under a second when all is well).
  const bool started = WaitStarted({"order-a", "order-b"}, In(10s));
  EXPECT_TRUE(started) << "order-a: " << c_.Get("order-a").Render()
                       << "; order-b: " << c_.Get("order-b").Render();
  EXPECT_TRUE(c_.Stop("order-a").found);
  const JobView stopped = c_.WaitFinal("order-a", In(5s));
  EXPECT_EQ("CANCELLED", stopped.state) << "JOB_STOP did not reach the process: " << stopped.Render();
  Release();
  const JobView b = c_.WaitFinal("order-b", In(started ? kDeadline : 5s));
  EXPECT_EQ("COMPLETED", b.state) << b.Render();
}

}  // namespace
}  // namespace titan::cluster_test

namespace titan::cluster_test {
namespace {

// Regression: a job that leaves a process outside its process group (setsid) holding its output
// pipes never finished: the worker waited for EOF forever.
TEST_F(ClusterTest, JobLeavingASetsidProcessStillFinishes) {
  AddWorker("w1", 2);
  // The job exits only once its escapee runs in a session of its own, holding the job's stdout.
  const std::string script =
      "setsid sleep 30 > /dev/stdout 2>&1 &\nP=$!\necho $P > " + c_.Path("escaped.pid") +
      "\nwhile [ \"$(ps -o sid= -p $P | tr -d ' ')\" != \"$P\" ]; do sleep 0.05; done\necho done\n";
  const testing::SubmitResult r = c_.Submit({Job("escape", "escape.sh")}, {{"escape.sh", script}});
  ASSERT_EQ("", r.error_code) << r.error;
  const JobView v = c_.WaitFinal("escape", In(kDeadline));
  EXPECT_EQ("COMPLETED", v.state) << v.Render();
  const std::string pid = testing::ReadFile(c_.Path("escaped.pid"));
  if (!pid.empty()) kill(static_cast<pid_t>(std::stol(pid)), SIGKILL);  // it escaped Titan by design
}

// Regression: with more assignments (or results) in flight than a ZeroMQ queue holds, the broker
// dropped JOB_ASSIGNs and the worker dropped JOB_DONEs, and those jobs stayed RUNNING forever.
// 12,000 jobs in flight make a broker built with AddressSanitizer on a busy 2-core machine take seconds per
// turn (3.5 s seen in CI). A worker reconnects after at most 10 heartbeats of broker silence (2 s at the
// suite's 200 ms), and runs lost three times end DEAD. A 1 s heartbeat (the worker waits 10 s) with a
// liveness of 60 heartbeats keeps failure detection out of a test about queue high-water marks.
class DeepQueueTest : public ClusterTest {
 protected:
  std::vector<std::string> BrokerArgs() const override {
    return {"--heartbeat-ms", "1000", "--liveness", "60"};
  }
};

TEST_F(DeepQueueTest, MoreJobsInFlightThanAQueueHoldsAllComplete) {
  ASSERT_TRUE(c_.AddWorker("wide", 15000, {}, {"--executor", "noop"})) << c_.error();
  constexpr int kJobs = 12000;  // above the 10,000-message high-water mark
  std::vector<testing::JobSpec> jobs;
  for (int i = 0; i < kJobs; ++i) jobs.push_back(Job("n" + std::to_string(i), "quick.sh"));
  ASSERT_EQ(static_cast<size_t>(kJobs), Submit(jobs).size());
  int completed = 0;
  for (int i = 0; i < kJobs; ++i)
    completed += c_.WaitFinal("n" + std::to_string(i), In(kDeadline)).state == "COMPLETED";
  EXPECT_EQ(kJobs, completed);
}

}  // namespace
}  // namespace titan::cluster_test
