// The broker's audit log: which requests AuditOf records and what each names (a table), and the core
// writing the rows with its turn, so they survive a restart, and pruning them by age.
#include "broker/audit.h"

#include <gtest/gtest.h>

#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

// "principal ACTION target outcome" of the row AuditOf makes, or "-" for none.
std::string Row(const wire::Message& req, const wire::Message& reply,
                const std::string& principal = "alice") {
  const std::optional<wire::AuditEntry> row = AuditOf(principal, req, reply, 42);
  if (!row) return "-";
  EXPECT_EQ(42, row->ts_ms);
  return row->principal + " " + row->action + " " + row->target + " " + row->outcome;
}

Message Ok() { return wire::OkMsg{}.ToMessage(); }
Message Refused(Status why) { return wire::MakeError(why); }

TEST(AuditOf, EachStateChangingRequestNamesWhatItActedOnAndNothingElse) {
  wire::JobSubmitMsg submit{.files = {wire::FileBlob{.name = "a.sh", .content = "echo TOPSECRET"}}};
  submit.jobs.push_back(wire::JobSpec{.id = "a", .file = "a.sh", .args = "--token TOPSECRET"});
  submit.jobs.push_back(
      wire::JobSpec{.id = "b", .file = "a.sh", .env = std::vector<std::string>{"K=TOPSECRET"}});
  submit.dag = "etl";
  const Message accepted = wire::JobAcceptedMsg{.ids = {"a", "b"}, .dag = "etl#2"}.ToMessage();
  EXPECT_EQ("alice JOB_SUBMIT dag=etl#2 jobs=a,b ok", Row(submit.ToMessage(), accepted));
  EXPECT_EQ("alice JOB_SUBMIT dag=etl jobs=a,b INVALID",
            Row(submit.ToMessage(), Refused(Status::Invalid("job 'a' exists"))));
  wire::JobSubmitMsg each{
      .jobs = {wire::JobSpec{.id = "x", .file = ""}, wire::JobSpec{.id = "y", .file = ""}}, .each = true};
  wire::JobAcceptedMsg some{.ids = {"x"}};
  some.each = {wire::SubmitOutcome{.ids = std::vector<std::string>{"x"}, .dag = "x"},
               wire::SubmitOutcome{.error = "INVALID", .reason = "job id 'y' is in use"}};
  EXPECT_EQ("alice JOB_SUBMIT jobs=x refused=1 ok", Row(each.ToMessage(), std::move(some).ToMessage()));
  EXPECT_EQ("bob JOB_STOP a ok", Row(wire::JobStopMsg{.id = "a"}.ToMessage(), Ok(), "bob"));
  EXPECT_EQ("(plaintext) DAG_CANCEL etl#2 ok", Row(wire::DagCancelMsg{.id = "etl#2"}.ToMessage(), Ok(), ""));
  EXPECT_EQ("alice GATE_DECIDE hitl-gate-a approve ok",
            Row(wire::GateDecideMsg{.id = "hitl-gate-a", .approve = true, .reason = "TOPSECRET"}.ToMessage(),
                Ok()));
  EXPECT_EQ("alice GATE_DECIDE hitl-gate-a reject ok",
            Row(wire::GateDecideMsg{.id = "hitl-gate-a", .approve = false}.ToMessage(), Ok()));
  EXPECT_EQ("alice WORKER_STOP w1 ok", Row(wire::WorkerStopMsg{.name = "w1"}.ToMessage(), Ok()));
  EXPECT_EQ("alice WORKER_ADD worker-5002 ok", Row(wire::WorkerAddMsg{.port = 5002}.ToMessage(),
                                                   wire::OkMsg{.name = "worker-5002"}.ToMessage()));
  EXPECT_EQ("alice WORKER_ADD port=5002 INVALID",
            Row(wire::WorkerAddMsg{.port = 5002}.ToMessage(), Refused(Status::Invalid("no worker here"))));
  EXPECT_EQ("alice SCHEDULE_ADD nightly ok",
            Row(wire::ScheduleAddMsg{.name = "nightly", .cron = "0 2 * * *"}.ToMessage(), Ok()));
  EXPECT_EQ("alice SCHEDULE_REMOVE nightly ok",
            Row(wire::ScheduleRemoveMsg{.name = "nightly"}.ToMessage(), Ok()));
  EXPECT_EQ("alice ARTIFACT_PUT uploads/d.csv upload=u7 ok",
            Row(wire::ArtifactPutMsg{.space = "uploads", .name = "d.csv", .size = 3}.ToMessage(),
                wire::ArtifactUploadMsg{.upload = "u7", .chunk_bytes = 1, .credit = 1}.ToMessage()));
  EXPECT_EQ("alice ARTIFACT_COMMIT uploads/d.csv upload=u7 ok",
            Row(wire::ArtifactCommitMsg{.upload = "u7"}.ToMessage(),
                wire::ArtifactInfoMsg{.artifact = {.space = "uploads", .name = "d.csv", .sha256 = "ab"}}
                    .ToMessage()));
  EXPECT_EQ("alice ARTIFACT_ABORT upload=u7 ok",
            Row(wire::ArtifactAbortMsg{.upload = "u7"}.ToMessage(), Ok()));
  EXPECT_EQ("alice ARTIFACT_DELETE perm_files/p.zip ok",
            Row(wire::ArtifactDeleteMsg{.space = "perm_files", .name = "p.zip"}.ToMessage(), Ok()));
}

TEST(AuditOf, ReadsAndChunksAreLeftOutUnlessRefusedForbidden) {
  const Message chunk = wire::ArtifactChunkMsg{.upload = "u7", .offset = 0, .crc32 = 1}.ToMessage();
  const Message forbidden = Refused(Status::Forbidden("principal 'eve' (role reader) may not send ..."));
  EXPECT_EQ("-", Row(wire::JobGetMsg{.id = "a"}.ToMessage(), Ok()));
  EXPECT_EQ("-", Row(wire::AuditListMsg{}.ToMessage(), Ok()));
  EXPECT_EQ("-", Row(chunk, wire::ArtifactChunkAckMsg{.upload = "u7", .received = 1}.ToMessage()));
  EXPECT_EQ("eve ARTIFACT_CHUNK upload=u7 FORBIDDEN", Row(chunk, forbidden, "eve"));
  EXPECT_EQ("eve JOB_GET a FORBIDDEN", Row(wire::JobGetMsg{.id = "a"}.ToMessage(), forbidden, "eve"));
  EXPECT_EQ("eve AUDIT_LIST  FORBIDDEN", Row(wire::AuditListMsg{}.ToMessage(), forbidden, "eve"));
}

TEST(AuditOf, AHugeSubmissionIsOneBoundedRow) {
  wire::JobSubmitMsg submit;
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back("j" + std::to_string(i));
  const std::string target = Row(submit.ToMessage(), wire::JobAcceptedMsg{.ids = ids}.ToMessage());
  EXPECT_NE(std::string::npos, target.find("jobs=j0,j1,")) << target;
  EXPECT_NE(std::string::npos, target.find(",j19 (+5 more) ok")) << target;
}

// "principal ACTION target outcome; ..." of the core's audit log, as AUDIT_LIST answers it.
class AuditCoreTest : public BrokerCoreTest {
 protected:
  std::string Audit(wire::AuditListMsg req = {}) {
    const Result<wire::AuditListReplyMsg> list = wire::AuditListReplyMsg::From(Client(req.ToMessage()));
    if (!list.ok()) return "error: " + list.message();
    std::string out;
    for (const wire::AuditEntry& e : list->entries) {
      out += (out.empty() ? "" : "; ") + e.principal + " " + e.action + " " + e.target + " " + e.outcome;
    }
    return out;
  }
};

TEST_F(AuditCoreTest, RowsAreWrittenWithTheTurnAndSurviveARestart) {
  Submit({{.id = "a"}, {.id = "b", .parents = {"a"}}}, "etl");
  core_->OnClient({"c"}, 2, wire::JobStopMsg{.id = "b"}.ToMessage(), now_, "bob");
  core_->OnRefused({"c"}, 3, wire::JobStopMsg{.id = "a"}.ToMessage(), Status::Forbidden("eve may not"), now_,
                   "eve");
  core_->Audit(wire::AuditEntry{.ts_ms = now_.wall_ms,
                                .principal = "os:ops",
                                .action = "KEY_REVOKE",
                                .target = "eve",
                                .outcome = "ok"});
  std::string answers;  // the refusal is answered as the node decided, with the turn
  for (const Outgoing& o : Turn()) {
    if (o.kind == Outgoing::kClient)
      answers += (answers.empty() ? "" : " ") + std::string(wire::NameOf(o.msg.type));
  }
  EXPECT_EQ("JOB_INFO ERROR", answers);
  Stop();  // as kill -9: only what was committed is there
  Open();
  EXPECT_EQ(
      "(plaintext) JOB_SUBMIT dag=etl jobs=a,b ok; bob JOB_STOP b ok; eve JOB_STOP a FORBIDDEN; "
      "os:ops KEY_REVOKE eve ok",
      Audit());
  EXPECT_EQ("bob JOB_STOP b ok", Audit({.principal = "bob"}));
  EXPECT_EQ("os:ops KEY_REVOKE eve ok", Audit({.limit = 1}));
}

TEST_F(AuditCoreTest, RowsPastTheRetentionArePrunedAtStartAndHourly) {
  config_.audit_retention_ms = 10 * 86'400'000LL;
  Open();
  Submit({{.id = "old"}});
  now_ += 10 * 86'400'000LL - 1;
  Submit({{.id = "new"}});
  Stop();
  Open();  // at start: the first row is not yet 10 days old
  Turn();
  EXPECT_EQ("(plaintext) JOB_SUBMIT dag=old jobs=old ok; (plaintext) JOB_SUBMIT dag=new jobs=new ok",
            Audit());
  now_ += 3600 * 1000;  // the hourly pruning
  Turn();
  EXPECT_EQ("(plaintext) JOB_SUBMIT dag=new jobs=new ok", Audit());
}

}  // namespace
}  // namespace titan::broker
