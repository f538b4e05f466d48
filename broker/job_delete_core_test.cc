// JOB_DELETE (core_delete.cc): a finished job submitted on its own leaves memory, the journal and the
// log store, every run of its id, durably; a live job or a job of a DAG is refused with what to do.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class JobDeleteTest : public BrokerCoreTest {
 protected:
  void SetUp() override {
    config_.retain_finished_count = 1000;  // retention on: jobs that left memory are read from the journal
    BrokerCoreTest::SetUp();
    Join("w1", 4);
  }

  void RunJob(const std::string& id, const std::string& output) {
    Submit({{.id = id}});
    const int64_t attempt = core_->FindJob(id)->attempt;
    core_->OnWorker(
        "id-w1",
        wire::JobLogMsg{.id = id, .attempt = attempt, .seq = 0, .stream = "stdout", .blobs = {output}}
            .ToMessage(),
        now_);
    Done("w1", id, 0, attempt);
  }

  std::string Delete(const std::string& id) {
    return ErrorOf(Client(wire::JobDeleteMsg{.id = id}.ToMessage()));
  }

  bool Found(const std::string& id) {
    const Result<wire::JobInfoMsg> info =
        wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = id}.ToMessage()));
    EXPECT_TRUE(info.ok()) << info.message();
    return info.ok() && info->found;
  }

  // Rows of the committed journal: jobs with this id (?1, when given), and DAG rows.
  int64_t JournalRows(const std::string& sql, const std::string& id = "") {
    std::unique_ptr<sql::Db> db = CommittedJournal();
    std::unique_ptr<sql::Statement> st;
    EXPECT_TRUE(db->Prepare(sql, &st).ok());
    if (!id.empty()) st->Bind(1, id);
    return st->Step() ? st->ColumnInt(0) : -1;
  }
};

TEST_F(JobDeleteTest, AFinishedJobGoesWithEveryRunItsLogsAndItsCountsAndStaysGoneAfterARestart) {
  RunJob("report", "first\n");
  RunJob("report", "second\n");  // the id reused: run 2
  RunJob("other", "kept\n");
  ASSERT_EQ(2, JournalRows("SELECT count(*) FROM jobs WHERE id = ?1", "report"));
  const int64_t dags = JournalRows("SELECT count(*) FROM dags");

  EXPECT_EQ("OK", Delete("report"));
  EXPECT_FALSE(Found("report"));
  EXPECT_EQ(0, JournalRows("SELECT count(*) FROM jobs WHERE id = ?1", "report"));
  EXPECT_EQ(dags - 2, JournalRows("SELECT count(*) FROM dags"));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("logs") + "/" + LogName("report", 1)));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("logs") + "/" + LogName("report", 2)));
  EXPECT_EQ(1, core_->state_counts()[static_cast<int>(JobState::kCompleted)]);
  EXPECT_TRUE(Found("other"));

  Stop();
  Open();
  EXPECT_FALSE(Found("report"));
  EXPECT_TRUE(Found("other"));
  EXPECT_EQ(1, core_->state_counts()[static_cast<int>(JobState::kCompleted)]);
  Join("w1", 4);
  // The id is free again: a new job with it starts as run 1.
  RunJob("report", "third\n");
  const Result<wire::JobInfoMsg> info =
      wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = "report"}.ToMessage()));
  ASSERT_TRUE(info.ok() && info->found);
  EXPECT_EQ("COMPLETED", info->job->state);
}

TEST_F(JobDeleteTest, AJobThatLeftMemoryIsDeletedFromTheJournal) {
  config_.retain_finished_count = 1;  // each new finished job pushes the previous one out of memory
  Stop();
  Open();
  Join("w1", 4);
  RunJob("old", "x\n");
  RunJob("new", "y\n");
  ASSERT_EQ(nullptr, core_->FindJob("old"));  // answered from the journal only
  ASSERT_TRUE(Found("old"));
  EXPECT_EQ("OK", Delete("old"));
  EXPECT_FALSE(Found("old"));
  EXPECT_EQ(0, JournalRows("SELECT count(*) FROM jobs WHERE id = ?1", "old"));
}

TEST_F(JobDeleteTest, ALiveJobIsRefusedWithHowToStopIt) {
  Submit({{.id = "busy"}});
  EXPECT_EQ("INVALID: job busy is RUNNING: stop it first (`titan stop busy`), then delete it",
            Delete("busy"));
  EXPECT_TRUE(Found("busy"));
}

TEST_F(JobDeleteTest, AJobOfADagIsNotDeletedAlone) {
  Submit({{.id = "a"}, {.id = "b", .parents = {"a"}}}, "pipe");
  Done("w1", "a", 0);
  Done("w1", "b", 0);
  const std::string refusal = Delete("a");
  EXPECT_NE(std::string::npos, refusal.find("INVALID: job a was submitted with 1 other jobs as DAG pipe"))
      << refusal;
  EXPECT_TRUE(Found("a"));
}

TEST_F(JobDeleteTest, AnUnknownJobIsNamed) {
  EXPECT_EQ("INVALID: no job 'ghost'; see `titan jobs`", Delete("ghost"));
}

}  // namespace
}  // namespace titan::broker
