// JOB_LIST: pages newest first, a cursor pages back, filters, and the bound on jobs examined per request.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class JobListTest : public BrokerCoreTest {
 protected:
  wire::JobListReplyMsg List(wire::JobListMsg req) {
    const Result<wire::JobListReplyMsg> reply =
        wire::JobListReplyMsg::From(Client(std::move(req).ToMessage()));
    EXPECT_TRUE(reply.ok()) << reply.message();
    return reply.ok() ? reply.value() : wire::JobListReplyMsg{};
  }
  // "j9 j8 j7 | more" (ids of the page, and whether another one follows).
  static std::string Ids(const wire::JobListReplyMsg& r) {
    std::string out;
    for (const wire::JobInfo& j : r.jobs) out += (out.empty() ? "" : " ") + j.id;
    if (r.truncated) out += " | more";
    EXPECT_EQ(r.truncated, r.next_before_seq.has_value());
    return out;
  }
  void SubmitMany(int n, const std::string& prefix = "j") {
    std::vector<JobArgs> jobs;
    for (int i = 0; i < n; ++i) jobs.push_back({.id = prefix + std::to_string(i), .delay_ms = 3600000});
    Submit(jobs);
  }
};

TEST_F(JobListTest, PagesGoBackFromTheNewestByCursorUntilNoneIsLeft) {
  SubmitMany(7);
  wire::JobListReplyMsg page = List({.limit = 3});
  EXPECT_EQ("j6 j5 j4 | more", Ids(page));
  page = List({.limit = 3, .before_seq = page.next_before_seq});
  EXPECT_EQ("j3 j2 j1 | more", Ids(page));
  page = List({.limit = 3, .before_seq = page.next_before_seq});
  EXPECT_EQ("j0", Ids(page));
  SubmitMany(2, "new");  // jobs submitted meanwhile do not shift the pages behind a cursor
  EXPECT_EQ("j1 j0", Ids(List({.limit = 3, .before_seq = core_->FindJob("j2")->seq})));
}

TEST_F(JobListTest, FiltersCombine) {
  Join("w1", 1);
  Submit({{.id = "train-a"}, {.id = "train-b", .requirement = "GPU"}, {.id = "eval"}}, "etl");
  Submit({{.id = "Train-c"}});
  EXPECT_EQ("Train-c train-b train-a", Ids(List({.limit = 10, .id_contains = "TRAIN"})));
  EXPECT_EQ("train-b", Ids(List({.limit = 10, .requirement = "GPU"})));
  EXPECT_EQ("eval train-b train-a", Ids(List({.limit = 10, .dag = "etl"})));
  EXPECT_EQ("train-a", Ids(List({.limit = 10, .worker = "w1"})));  // the one w1 took
  EXPECT_EQ("train-a", Ids(List({.state = "RUNNING", .limit = 10, .dag = "etl", .id_contains = "a"})));
  const int64_t at = core_->FindJob("eval")->submitted_ms;
  EXPECT_EQ("Train-c eval train-b train-a", Ids(List({.limit = 10, .submitted_since_ms = at})));
  EXPECT_EQ("", Ids(List({.limit = 10, .submitted_until_ms = at})));
}

TEST_F(JobListTest, ARequestExaminesAtMostItsBoundAndSaysWhereToGoOn) {
  config_.list_scan_limit = 5;
  Open();
  SubmitMany(12);
  Submit({{.id = "needle", .delay_ms = 3600000}});
  SubmitMany(12, "k");
  // Only "needle" matches; each request looks at 5 jobs and hands back a cursor.
  wire::JobListMsg req{.limit = 10, .id_contains = "needle"};
  std::string found;
  int requests = 0;
  for (wire::JobListReplyMsg page = List(req);; page = List(req)) {
    ++requests;
    found += Ids(page).substr(0, Ids(page).find(" |"));
    if (!page.truncated) break;
    req.before_seq = page.next_before_seq;
  }
  EXPECT_EQ("needle", found);
  EXPECT_EQ(5, requests);  // 25 jobs, 5 at a time
}

TEST_F(JobListTest, WithRetentionFinishedJobsArePagedFromTheJournalWithTheSameCursorAndFilters) {
  config_.retain_finished_count = 1;  // finished jobs may leave memory: lists read the journal
  Open();
  Join("w1", 8);
  std::vector<JobArgs> jobs;
  for (int i = 0; i < 7; ++i) jobs.push_back({.id = "j" + std::to_string(i)});
  Submit(jobs);
  for (int i = 0; i < 7; ++i) Done("w1", "j" + std::to_string(i), 0);
  wire::JobListReplyMsg page = List({.limit = 3});
  EXPECT_EQ("j6 j5 j4 | more", Ids(page));
  page = List({.limit = 3, .before_seq = page.next_before_seq});
  EXPECT_EQ("j3 j2 j1 | more", Ids(page));
  EXPECT_EQ("j0", Ids(List({.limit = 3, .before_seq = page.next_before_seq})));
  EXPECT_EQ("j5", Ids(List({.state = "COMPLETED", .limit = 10, .id_contains = "5"})));
  EXPECT_EQ("j0", Ids(List({.limit = 10, .before_seq = page.next_before_seq, .worker = "w1"})));
}

TEST_F(JobListTest, AnUnknownStateIsRefusedWithTheStatesThatExist) {
  const Message reply = Client(wire::JobListMsg{.state = "DONE", .limit = 10}.ToMessage());
  ASSERT_EQ(MsgType::kError, reply.type);
  EXPECT_NE(std::string::npos, wire::StatusOf(reply).message().find("use one of PENDING"));
}

}  // namespace
}  // namespace titan::broker
