// Long-running services, worker drain and auto-scaling, end to end with real processes: an HTTP
// service restarted after SIGKILL, and restarted by request (SERVICE_RESTART), a crash loop reported
// FAILED, a deliberate stop, a service moved
// off a dead or draining worker, a DAG step calling a service, a burst that starts a child worker
// and retires it. Every test ends by counting zombies and orphans: there must be none.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/cluster.h"

namespace titan::services_test {
namespace {

using testing::Cluster;
using testing::Deadline;
using testing::In;
using testing::JobSpec;
using testing::JobView;
using wire::Datum;
using wire::Text;
using namespace std::chrono_literals;

constexpr auto kDeadline = 40s;

// An HTTP server on 127.0.0.1:$1 answering every GET with "pid <its pid>".
constexpr const char* kServePy = R"(import http.server, os, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("pid %d\n" % os.getpid()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("serving on", sys.argv[1], flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
)";

// A DAG step: GETs the service on port $1 and prints the answer; fails when nothing answers.
constexpr const char* kCallPy = R"(import sys, urllib.request
print("service said:", urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=10).read().decode().strip())
)";

constexpr const char* kCrashSh = "#!/bin/bash\necho crashing\nexit 1\n";

// Notes it started (marks/<id>), then waits for the file `go` in $T_DIR.
constexpr const char* kHoldSh = R"(#!/bin/bash
touch "$T_DIR/marks/$TITAN_JOB_ID"
while [ ! -e "$T_DIR/go" ]; do [ -d "$T_DIR/marks" ] || exit 3; sleep 0.05; done
)";

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// One GET to 127.0.0.1:port; the pid in the answer, or -1 when nothing answered.
int HttpPid(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  const std::string req = "GET / HTTP/1.0\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string answer;
  char buf[512];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) answer.append(buf, static_cast<size_t>(n));
  close(fd);
  const size_t at = answer.find("pid ");
  return at == std::string::npos ? -1 : std::atoi(answer.c_str() + at + 4);
}

// Processes (other than zombies) whose command line or environment mentions `marker`; and zombies
// whose parent is `parent` (0: any parent with the marker).
struct ProcCount {
  int alive = 0, zombies = 0;
  std::string names;
};
std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
ProcCount CountProcesses(const std::string& marker) {
  ProcCount c;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos || std::stoi(pid) == getpid()) continue;
    const std::string stat = Slurp(e.path() / "stat");
    const size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    const char state = stat[close_paren + 2];
    const std::string seen = Slurp(e.path() / "cmdline") + Slurp(e.path() / "environ");
    if (seen.find(marker) == std::string::npos) continue;
    if (state == 'Z') {
      ++c.zombies;
    } else {
      ++c.alive;
    }
    c.names += " " + pid + ":" + stat.substr(stat.find('(') + 1, close_paren - stat.find('(') - 1);
  }
  return c;
}

class ServicesTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> broker_args = {}) {
    c_ = std::make_unique<Cluster>();
    ASSERT_TRUE(c_->Start(std::move(broker_args))) << c_->error();
    marker_ = c_->dir().path();
    std::filesystem::create_directories(c_->Path("marks"));
  }

  // Stops everything, then checks that no process of this test is left, zombie or not.
  void TearDown() override {
    if (!c_) return;
    c_.reset();
    const ProcCount left = CountProcesses(marker_);
    EXPECT_EQ(0, left.alive) << "orphans:" << left.names;
    EXPECT_EQ(0, left.zombies) << "zombies:" << left.names;
  }

  void AddWorker(const std::string& name, int slots, std::vector<std::string> extra = {}) {
    ASSERT_TRUE(c_->AddWorker(name, slots, {}, extra)) << c_->error();
  }

  JobSpec Service(const std::string& id, const std::string& file, int port, int64_t max_restarts = 5) {
    JobSpec s;
    s.id = id;
    s.file = file;
    s.args = std::to_string(port);
    s.env = {"T_DIR=" + c_->dir().path()};
    s.extra = {{"job_type", Datum(Text{"SERVICE"})},
               {"port", Datum(int64_t{port})},
               {"max_restarts", Datum(max_restarts)}};
    return s;
  }

  JobSpec Job(const std::string& id, const std::string& file, const std::string& args = "") {
    JobSpec s;
    s.id = id;
    s.file = file;
    s.args = args;
    s.env = {"T_DIR=" + c_->dir().path()};
    return s;
  }

  std::vector<std::string> Submit(const std::vector<JobSpec>& jobs) {
    const auto r = c_->Submit(
        jobs, {{"serve.py", kServePy}, {"call.py", kCallPy}, {"crash.sh", kCrashSh}, {"hold.sh", kHoldSh}});
    EXPECT_EQ("", r.error_code) << r.error;
    return r.ids;
  }

  JobView WaitReady(const std::string& id, int64_t min_restarts = 0, const std::string& on = "") {
    return c_->WaitJob(
        id,
        [&](const JobView& v) {
          return v.final() || (v.ready && v.restarts >= min_restarts && (on.empty() || v.worker == on));
        },
        In(kDeadline));
  }

  std::string Log(const std::string& id) {
    wire::Message reply;
    c_->Call(wire::MakeMessage(wire::MsgType::kJobLogs)
                 .Set("id", Datum(Text{id}))
                 .Set("offset", Datum(int64_t{0}))
                 .Set("max_bytes", Datum(int64_t{1 << 20})),
             &reply);
    return reply.blobs.empty() ? "" : reply.blobs.front();
  }

  std::unique_ptr<Cluster> c_;
  std::string marker_;
};

TEST_F(ServicesTest, AnHttpServiceAnswersComesBackAfterSigkillAndStopsForGood) {
  Start();
  AddWorker("w1", 2);
  const int port = FreePort();
  Submit({Service("web", "serve.py", port)});
  JobView v = WaitReady("web");
  ASSERT_TRUE(v.ready) << v.Render();
  EXPECT_EQ(port, v.port);
  const int first = HttpPid(port);
  ASSERT_GT(first, 0) << "the service did not answer";

  ASSERT_EQ(0, kill(first, SIGKILL));
  v = WaitReady("web", 1);
  ASSERT_TRUE(v.ready) << v.Render();
  EXPECT_EQ("RUNNING", v.state);
  const int second = HttpPid(port);
  EXPECT_GT(second, 0);
  EXPECT_NE(first, second) << "the restarted service is a new process";

  v = c_->Stop("web");
  v = c_->WaitFinal("web", In(kDeadline));
  EXPECT_EQ("CANCELLED", v.state) << v.Render();
  EXPECT_EQ(-1, HttpPid(port)) << "a stopped service is not restarted";
  EXPECT_EQ(1, c_->Get("web").restarts);
}

TEST_F(ServicesTest, ARestartedServiceAnswersAgainFromANewProcessOnTheSameWorker) {
  Start();
  AddWorker("w1", 2);
  const int port = FreePort();
  // max_restarts 0: a crash would end it, so the restart asked for must not count as one.
  Submit({Service("web", "serve.py", port, /*max_restarts=*/0)});
  ASSERT_TRUE(WaitReady("web").ready);
  const int first = HttpPid(port);
  ASSERT_GT(first, 0) << "the service did not answer";

  wire::Message reply;
  ASSERT_TRUE(c_->Call(wire::ServiceRestartMsg{.id = "web"}.ToMessage(), &reply));
  const Result<wire::JobInfoMsg> asked = wire::JobInfoMsg::From(reply);
  ASSERT_TRUE(asked.ok() && asked->job) << wire::NameOf(reply.type) << " " << reply.Bytes("reason");
  EXPECT_FALSE(asked->job->ready.value_or(true)) << "not ready until the new process is";

  const JobView v = WaitReady("web", 1);
  ASSERT_TRUE(v.ready) << v.Render();
  EXPECT_EQ("RUNNING", v.state);
  EXPECT_EQ(1, v.restarts);
  EXPECT_EQ("w1", v.worker);
  const int second = HttpPid(port);
  EXPECT_GT(second, 0) << "the restarted service does not answer";
  EXPECT_NE(first, second) << "the restarted service is a new process";
  EXPECT_NE(0, kill(first, 0)) << "the old process is gone";
  const std::string note = "titan: restart requested: stopping the service to start it again";
  EXPECT_TRUE(c_->WaitFor([&] { return Log("web").find(note) != std::string::npos; }, In(kDeadline)))
      << "the restart is noted in the service's log:\n"
      << Log("web");

  c_->Stop("web");
  EXPECT_EQ("CANCELLED", c_->WaitFinal("web", In(kDeadline)).state);
}

TEST_F(ServicesTest, ACrashLoopingServiceIsFailedAfterItsLimit) {
  Start();
  AddWorker("w1", 2);
  Submit({Service("crasher", "crash.sh", 0, /*max_restarts=*/2)});
  const JobView v = c_->WaitFinal("crasher", In(kDeadline));
  EXPECT_EQ("FAILED", v.state) << v.Render();
  EXPECT_NE(v.reason.find("crash loop"), std::string::npos) << v.Render();
  const std::string log = Log("crasher");
  size_t runs = 0;
  for (size_t at = 0; (at = log.find("crashing", at)) != std::string::npos; ++at) ++runs;
  EXPECT_EQ(3u, runs) << "the first run and 2 restarts:\n" << log;
}

TEST_F(ServicesTest, AServiceMovesWhenItsWorkerIsKilled) {
  Start();
  AddWorker("w1", 2);
  const int port = FreePort();
  Submit({Service("web", "serve.py", port)});
  ASSERT_TRUE(WaitReady("web").ready);
  const int first = HttpPid(port);
  ASSERT_GT(first, 0);
  AddWorker("w2", 2);
  c_->worker("w1")->Kill(SIGKILL);
  kill(-first, SIGKILL);  // the machine is gone, and the service with it
  const JobView v = WaitReady("web", 0, "w2");
  ASSERT_TRUE(v.ready) << v.Render();
  EXPECT_EQ("w2", v.worker);
  const int second = HttpPid(port);
  EXPECT_GT(second, 0);
  EXPECT_NE(first, second);
}

TEST_F(ServicesTest, ADagStepWaitsForTheServiceAndCallsIt) {
  Start();
  AddWorker("w1", 2);
  const int port = FreePort();
  JobSpec caller = Job("caller", "call.py", std::to_string(port));
  caller.parents = {"api"};
  Submit({Service("api", "serve.py", port), caller});
  const JobView v = c_->WaitFinal("caller", In(kDeadline));
  EXPECT_EQ("COMPLETED", v.state) << v.Render() << "\n" << Log("caller");
  EXPECT_NE(Log("caller").find("service said: pid "), std::string::npos) << Log("caller");
  EXPECT_EQ("RUNNING", c_->Get("api").state) << "the service keeps running after its dependant finished";
}

TEST_F(ServicesTest, GracefulShutdownLetsJobsFinishAndMovesServices) {
  Start();
  AddWorker("w1", 3);
  const int port = FreePort();
  Submit({Service("web", "serve.py", port), Job("hold", "hold.sh")});
  ASSERT_TRUE(WaitReady("web").ready);
  ASSERT_TRUE(testing::WaitForFiles(
      c_->Path("marks"), [&] { return std::filesystem::exists(c_->Path("marks/hold")); }, In(kDeadline)));
  AddWorker("w2", 3);
  wire::Message reply;
  ASSERT_TRUE(c_->Call(wire::MakeMessage(wire::MsgType::kWorkerStop).Set("name", Datum(Text{"w1"})), &reply));
  ASSERT_EQ(wire::MsgType::kOk, reply.type);

  // The service moves to w2 and answers there; the running job keeps running on w1.
  const JobView web = WaitReady("web", 0, "w2");
  EXPECT_TRUE(web.ready) << web.Render();
  EXPECT_GT(HttpPid(port), 0);
  EXPECT_EQ("RUNNING", c_->Get("hold").state);
  EXPECT_EQ("w1", c_->Get("hold").worker);
  // No new work goes to the draining worker.
  Submit({Job("later", "hold.sh")});
  const JobView later = c_->WaitJob(
      "later", [](const JobView& j) { return j.state == "RUNNING"; }, In(kDeadline));
  EXPECT_EQ("w2", later.worker);

  std::ofstream(c_->Path("go")) << "go\n";
  EXPECT_EQ("COMPLETED", c_->WaitFinal("hold", In(kDeadline)).state);
  EXPECT_EQ("COMPLETED", c_->WaitFinal("later", In(kDeadline)).state);
  EXPECT_TRUE(c_->worker("w1")->WaitExited(kDeadline)) << "a drained worker exits";
}

TEST_F(ServicesTest, ABurstStartsAChildWorkerThatIsRetiredAfterwards) {
  Start({"--autoscale-max", "1", "--scale-wait-ms", "300", "--scale-cooldown-ms", "1500"});
  AddWorker("w1", 1);
  std::vector<JobSpec> burst;
  for (int i = 0; i < 4; ++i) burst.push_back(Job("slow" + std::to_string(i), "hold.sh"));
  Submit(burst);

  // w1 has one slot: the queue waits, so w1 is asked to start a child worker, which takes work.
  ASSERT_TRUE(c_->WaitFor(
      [&] {
        const auto s = c_->Stats();
        for (const auto& w : s.workers) {
          if (w.parent == "w1" && w.busy > 0) return true;
        }
        return false;
      },
      In(kDeadline)))
      << "no child worker joined and took work";
  std::ofstream(c_->Path("go")) << "go\n";
  for (const auto& j : burst) EXPECT_EQ("COMPLETED", c_->WaitFinal(j.id, In(kDeadline)).state);

  // Idle past its cool-down, the child is retired and leaves.
  ASSERT_TRUE(c_->WaitFor(
      [&] {
        const auto s = c_->Stats();
        return s.error.empty() && s.workers.size() == 1 && s.workers[0].name == "w1";
      },
      In(kDeadline)))
      << "the child worker was not retired";
  wire::Message stats;
  ASSERT_TRUE(c_->Call(wire::MakeMessage(wire::MsgType::kStatsGet), &stats));
  std::string actions;
  for (const auto& e : std::get<wire::List>(stats.Find("scaling")->v)) {
    actions += std::string(wire::FindField(std::get<wire::Map>(e.v), "action")->bytes()) + " ";
  }
  EXPECT_EQ("spawn retire ", actions);
}

}  // namespace
}  // namespace titan::services_test
