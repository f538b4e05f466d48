// Services in the broker core: readiness releases dependants, a deliberate stop ends a service for
// good, a restart asks its worker for a new process, a draining worker's services move, crash loops
// fail; auto-scaling asks for and retires child workers.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class ServiceCoreTest : public BrokerCoreTest {
 protected:
  Message SubmitService(const std::string& id, int64_t port,
                        const std::vector<std::string>& dependants = {}) {
    wire::JobSubmitMsg req{.jobs = {{.id = id, .file = "job.sh", .job_type = "SERVICE", .port = port}},
                           .files = {{.name = "job.sh", .content = "x"}}};
    for (const auto& d : dependants) {
      req.jobs.push_back(wire::JobSpec{.id = d, .file = "job.sh", .parents = std::vector{id}});
    }
    return Client(std::move(req).ToMessage());
  }
  void Status(const std::string& worker, const std::string& id, bool ready, int64_t restarts,
              int64_t attempt = 1, int64_t pid = 42) {
    wire::ServiceStatusMsg m{.id = id, .attempt = attempt, .ready = ready, .restarts = restarts, .pid = pid};
    if (!ready) m.reason = "starting";
    core_->OnWorker("id-" + worker, m.ToMessage(), now_);
    Turn();
  }
  Datum Info(const std::string& id) { return *Client(wire::JobGetMsg{.id = id}.ToMessage()).Find("job"); }
  static int64_t IntOf(const Datum& info, const char* field) {
    return std::get<int64_t>(wire::FindField(std::get<wire::Map>(info.v), field)->v);
  }
  static bool BoolOf(const Datum& info, const char* field) {
    return std::get<bool>(wire::FindField(std::get<wire::Map>(info.v), field)->v);
  }
  int Count(MsgType type, const std::string& worker) {
    int n = 0;
    for (const auto& o : sent_)
      n += o.kind == Outgoing::kWorker && o.msg.type == type && o.identity == "id-" + worker;
    return n;
  }
};

TEST_F(ServiceCoreTest, DependantsStartWhenTheServiceIsReadyNotWhenItRuns) {
  Join("w1", 4);
  ASSERT_EQ(SubmitService("api", 8080, {"caller"}).type, MsgType::kJobAccepted);
  EXPECT_EQ("api@w1", Assignments());
  EXPECT_EQ("BLOCKED", State("caller"));
  Status("w1", "api", false, 0);
  EXPECT_EQ("BLOCKED", State("caller"));
  Status("w1", "api", true, 2);
  EXPECT_EQ("caller@w1", Assignments());
  const Datum info = Info("api");
  EXPECT_TRUE(BoolOf(info, "ready"));
  EXPECT_EQ(8080, IntOf(info, "port"));
  EXPECT_EQ(2, IntOf(info, "restarts"));
  // Stopping the service later does not touch the dependant that already runs.
  Client(wire::JobStopMsg{.id = "api"}.ToMessage());
  EXPECT_EQ(1, Count(MsgType::kJobCancel, "w1"));
  Done("w1", "api", -1, 1, /*cancelled=*/true);
  EXPECT_EQ("CANCELLED", State("api"));
  EXPECT_EQ("RUNNING", State("caller"));
}

TEST_F(ServiceCoreTest, ARestartAsksItsWorkerAndTheServiceIsReadyAgainOnlyWithANewProcess) {
  Join("w1", 4);
  SubmitService("api", 8080);
  Status("w1", "api", true, 0, 1, /*pid=*/42);
  core_->OnClient({"c"}, 2, wire::ServiceRestartMsg{.id = "api"}.ToMessage(), now_, "olivia");
  const Result<wire::JobInfoMsg> reply = [&] {
    for (const Outgoing& o : Turn()) {
      if (o.kind == Outgoing::kClient) return wire::JobInfoMsg::From(o.msg);
    }
    return Result<wire::JobInfoMsg>(Status::Error("no reply"));
  }();
  ASSERT_TRUE(reply.ok()) << reply.message();
  EXPECT_EQ("RUNNING", reply->job->state);
  EXPECT_FALSE(reply->job->ready.value_or(true));
  EXPECT_EQ("restarting (requested)", reply->job->reason.value_or(""));
  ASSERT_EQ(1, Count(MsgType::kServiceRespawn, "w1"));
  for (const Outgoing& o : sent_) {
    if (o.msg.type != MsgType::kServiceRespawn) continue;
    const Result<wire::ServiceRespawnMsg> respawn = wire::ServiceRespawnMsg::From(o.msg);
    ASSERT_TRUE(respawn.ok());
    EXPECT_EQ("api/1", respawn->id + "/" + std::to_string(respawn->attempt));
  }
  // A JOB_WAIT now waits for the new process; the old one's last word does not end it.
  core_->OnClient({"waiter"}, 3, wire::JobWaitMsg{.id = "api", .timeout_ms = 60000}.ToMessage(), now_);
  Turn();
  Status("w1", "api", true, 0, 1, /*pid=*/42);
  EXPECT_FALSE(BoolOf(Info("api"), "ready"));
  Status("w1", "api", false, 1, 1, /*pid=*/43);
  EXPECT_FALSE(BoolOf(Info("api"), "ready"));
  EXPECT_EQ(1, IntOf(Info("api"), "restarts"));
  core_->OnWorker(
      "id-w1",
      wire::ServiceStatusMsg{.id = "api", .attempt = 1, .ready = true, .restarts = 1, .pid = 43}.ToMessage(),
      now_);
  std::string woken;
  for (const Outgoing& o : Turn()) {
    if (o.kind == Outgoing::kClient) woken += o.route.front() + " ";
  }
  EXPECT_EQ("waiter ", woken);
  EXPECT_TRUE(BoolOf(Info("api"), "ready"));
  EXPECT_EQ("RUNNING", State("api"));
  // Audited under the principal that asked.
  const Result<wire::AuditListReplyMsg> audit =
      wire::AuditListReplyMsg::From(Client(wire::AuditListMsg{.principal = "olivia"}.ToMessage()));
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(1u, audit->entries.size());
  EXPECT_EQ("SERVICE_RESTART api ok",
            audit->entries[0].action + " " + audit->entries[0].target + " " + audit->entries[0].outcome);
}

TEST_F(ServiceCoreTest, ARestartIsRefusedSayingWhyWhenThereIsNoProcessToRestart) {
  auto restart = [&](const std::string& id) {
    return ErrorOf(Client(wire::ServiceRestartMsg{.id = id}.ToMessage()));
  };
  EXPECT_EQ("INVALID: no service 'ghost'; see `titan services`", restart("ghost"));
  SubmitService("waiting", 8080);  // no worker yet
  EXPECT_EQ(
      "INVALID: service 'waiting' is QUEUED: it has no process to restart yet; it starts once a worker "
      "takes it",
      restart("waiting"));
  Join("w1", 4);
  Submit({{.id = "batch"}});
  EXPECT_NE(std::string::npos, restart("batch").find("INVALID: job 'batch' is not a service"))
      << restart("batch");
  Client(wire::JobStopMsg{.id = "waiting"}.ToMessage());
  EXPECT_EQ("INVALID: service 'waiting' is being stopped; deploy it again to run it", restart("waiting"));
  Done("w1", "waiting", -1, 1, /*cancelled=*/true);
  EXPECT_EQ("INVALID: service 'waiting' has ended (CANCELLED); deploy it again to run it",
            restart("waiting"));
  EXPECT_EQ(0, Count(MsgType::kServiceRespawn, "w1"));
}

TEST_F(ServiceCoreTest, ADrainingWorkersServiceMovesButAStoppedOneDoesNot) {
  Join("w1", 4);
  SubmitService("api", 8080);
  SubmitService("web", 8081);
  EXPECT_EQ("api@w1 web@w1", Assignments());
  Client(wire::JobStopMsg{.id = "web"}.ToMessage());
  Join("w2", 4);
  core_->OnWorker("id-w1", wire::HeartbeatMsg{.draining = true}.ToMessage(), now_);
  Turn();
  Done("w1", "api", -1, 1, /*cancelled=*/true);
  Done("w1", "web", -1, 1, /*cancelled=*/true);
  EXPECT_EQ("api@w2", Assignments());
  EXPECT_EQ("RUNNING", State("api"));
  EXPECT_EQ("CANCELLED", State("web"));
}

TEST_F(ServiceCoreTest, ACrashLoopReportedByTheWorkerFailsTheServiceAndSkipsDependants) {
  Join("w1", 4);
  SubmitService("api", 8080, {"caller"});
  const wire::JobDoneMsg m{.result = {.id = "api",
                                      .attempt = 1,
                                      .exit_code = 1,
                                      .signal = 0,
                                      .cancelled = false,
                                      .reason = "crash loop: exited 6 times in a row (last: exit code 1)"}};
  core_->OnWorker("id-w1", m.ToMessage(), now_);
  Turn();
  EXPECT_EQ("FAILED", State("api"));
  EXPECT_EQ("SKIPPED", State("caller"));
  EXPECT_EQ(core_->FindJob("api")->reason, "crash loop: exited 6 times in a row (last: exit code 1)");
}

// Regression: after a broker restart a service forgot that it had released its dependants (it is not
// journaled), so its end skipped a dependant that was already running.
TEST_F(ServiceCoreTest, AServiceThatEndsAfterARestartLeavesTheJobsItReleasedRunning) {
  Join("w1", 4);
  SubmitService("api", 8080, {"caller"});
  SubmitService("db", 5432, {"report"});
  EXPECT_EQ("api@w1 db@w1", Assignments());
  Status("w1", "api", true, 0);
  EXPECT_EQ("caller@w1", Assignments());
  Stop();
  Open();
  auto ref = [](const std::string& id) { return wire::JobRef{.id = id, .attempt = 1}; };
  Join("w1", 4, {"GENERAL"}, {ref("api"), ref("caller"), ref("db")});
  Done("w1", "api", 1);
  EXPECT_EQ("FAILED", State("api"));
  EXPECT_EQ("RUNNING", State("caller"));
  Done("w1", "caller", 0);
  EXPECT_EQ("COMPLETED", State("caller"));
  // A service that never became ready still takes its waiting dependants with it.
  Done("w1", "db", 1);
  EXPECT_EQ("SKIPPED", State("report"));
}

TEST_F(ServiceCoreTest, ServicesAreListedByType) {
  Join("w1", 4);
  SubmitService("api", 8080);
  Submit({{.id = "batch"}});
  Message list = Client(wire::JobListMsg{.limit = 10, .job_type = "SERVICE"}.ToMessage());
  const auto& jobs = std::get<wire::List>(list.Find("jobs")->v);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(wire::FindField(std::get<wire::Map>(jobs[0].v), "id")->bytes(), "api");
}

TEST_F(ServiceCoreTest, ABurstAsksForAChildWorkerAndItIsRetiredWhenIdle) {
  config_.scaling.max_children = 1;
  config_.scaling.wait_ms = 2000;
  config_.scaling.cooldown_ms = 10000;
  Open();
  Join("w1", 1);
  Submit({{.id = "a"}, {.id = "b"}});
  EXPECT_EQ("a@w1", Assignments());
  Advance(1500, {"w1"});
  EXPECT_EQ(0, Count(MsgType::kWorkerSpawn, "w1"));
  Advance(1000, {"w1"});
  ASSERT_EQ(1, Count(MsgType::kWorkerSpawn, "w1"));
  Advance(5000, {"w1"});
  EXPECT_EQ(1, Count(MsgType::kWorkerSpawn, "w1")) << "one child at a time, until it joins";
  Join("w1-auto-1", 1, {"GENERAL"}, {}, {}, "w1");
  EXPECT_EQ("b@w1-auto-1", Assignments());
  Done("w1-auto-1", "b", 0);
  Done("w1", "a", 0);
  Advance(9000, {"w1", "w1-auto-1"});
  EXPECT_EQ(0, Count(MsgType::kWorkerDrain, "w1-auto-1"));
  Advance(2000, {"w1", "w1-auto-1"});
  EXPECT_EQ(1, Count(MsgType::kWorkerDrain, "w1-auto-1"));
  const Message stats = Client(wire::StatsGetMsg{}.ToMessage());
  std::string actions;
  for (const auto& e : std::get<wire::List>(stats.Find("scaling")->v)) {
    actions += std::string(wire::FindField(std::get<wire::Map>(e.v), "action")->bytes()) + " ";
  }
  EXPECT_EQ("spawn retire ", actions);
}

}  // namespace
}  // namespace titan::broker
