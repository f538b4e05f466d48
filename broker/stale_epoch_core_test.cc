// Lease epochs in worker reports (reconcile.h, OlderEpoch): a run is assigned under the broker's lease
// epoch (journaled with the attempt, sent in JOB_ASSIGN); a report of that attempt from an older epoch
// is refused (acknowledged, not applied, counted), one of the attempt's epoch is applied, and a run the
// next leader adopts after a failover keeps the epoch it was assigned under, so its result is applied.
// The epochs are set by hand (Journal::SetLeaseEpochForTesting), as a PostgreSQL lease would set them.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class StaleEpochTest : public BrokerCoreTest {
 protected:
  void DoneUnder(const std::string& worker, const std::string& id, int64_t attempt,
                 std::optional<int64_t> epoch) {
    wire::JobResult r{.id = id, .attempt = attempt, .exit_code = 0, .signal = 0, .cancelled = false};
    r.epoch = epoch;
    core_->OnWorker("id-" + worker, wire::JobDoneMsg{.result = std::move(r)}.ToMessage(), now_);
    Turn();
  }

  // The epoch of the last JOB_ASSIGN sent (nullopt: none carried one, or none was sent).
  std::optional<int64_t> AssignedEpoch() {
    std::optional<int64_t> epoch;
    for (const auto& o : sent_) {
      if (o.kind != Outgoing::kWorker || o.msg.type != MsgType::kJobAssign) continue;
      const Result<wire::JobAssignMsg> assign = wire::JobAssignMsg::From(o.msg);
      if (assign.ok()) epoch = assign->epoch;
    }
    return epoch;
  }

  int64_t Acks(const std::string& id) {
    int64_t n = 0;
    for (const auto& o : sent_)
      n += o.kind == Outgoing::kWorker && o.msg.type == MsgType::kJobAck && o.msg.Bytes("id") == id;
    return n;
  }
};

TEST_F(StaleEpochTest, AResultFromAnOlderEpochIsRefusedAndOneOfTheAssignmentsEpochApplied) {
  journal_->SetLeaseEpochForTesting(6);
  Join("w1", 2);
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{"a"}}).type);
  ASSERT_EQ("RUNNING", State("a"));
  EXPECT_EQ(std::optional<int64_t>(6), AssignedEpoch());
  EXPECT_EQ(6, core_->FindJob("a")->epoch);

  DoneUnder("w1", "a", 1, 5);
  EXPECT_EQ("RUNNING", State("a")) << "a result of epoch 5 for an attempt assigned under epoch 6";
  EXPECT_EQ(1, core_->metrics().stale_epoch_results);
  EXPECT_EQ(1, Acks("a")) << "acknowledged, so its worker forgets it";

  DoneUnder("w1", "a", 1, 6);
  EXPECT_EQ("COMPLETED", State("a"));
  EXPECT_EQ(1, core_->metrics().stale_epoch_results);
  const Result<wire::StatsMsg> stats = wire::StatsMsg::From(Client(wire::StatsGetMsg{}.ToMessage()));
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(1, stats->stale_epoch_results.value_or(-1));
}

TEST_F(StaleEpochTest, TheAttemptsEpochIsJournaledAndARestartedBrokerStillRefusesOlderOnes) {
  journal_->SetLeaseEpochForTesting(6);
  Join("w1", 2);
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{"a"}}).type);
  Stop();
  Open();
  journal_->SetLeaseEpochForTesting(7);
  ASSERT_NE(nullptr, core_->FindJob("a"));
  EXPECT_EQ(6, core_->FindJob("a")->epoch) << "read back from the journal";
  // The worker comes back with its run, reporting the epoch it was assigned under: adopted.
  Join("w1", 2, {"GENERAL"}, {wire::JobRef{.id = "a", .attempt = 1, .epoch = 6}});
  EXPECT_EQ("RUNNING", State("a"));
  DoneUnder("w1", "a", 1, 5);
  EXPECT_EQ("RUNNING", State("a"));
  EXPECT_EQ(1, core_->metrics().stale_epoch_results);
}

TEST_F(StaleEpochTest, ARunAdoptedAfterAFailoverIsNotRefused) {
  journal_->SetLeaseEpochForTesting(5);  // the first leader
  Join("w1", 2);
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{"a"}}).type);
  ASSERT_EQ(std::optional<int64_t>(5), AssignedEpoch());
  Stop();  // the leader dies; the next one takes the lease with epoch 6 and recovers the journal
  Open();
  journal_->SetLeaseEpochForTesting(6);
  // Its worker re-registers with the new leader within the recovery grace, reporting its run (epoch 5).
  Join("w1", 2, {"GENERAL"}, {wire::JobRef{.id = "a", .attempt = 1, .epoch = 5}});
  ASSERT_EQ("RUNNING", State("a"));
  EXPECT_EQ(5, core_->FindJob("a")->epoch) << "adoption keeps the epoch it was assigned under";
  DoneUnder("w1", "a", 1, 5);
  EXPECT_EQ("COMPLETED", State("a"));
  EXPECT_EQ(0, core_->metrics().stale_epoch_results);
  // A job assigned by the new leader goes out under its epoch.
  sent_.clear();
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{"b"}}).type);
  EXPECT_EQ(std::optional<int64_t>(6), AssignedEpoch());
}

TEST_F(StaleEpochTest, ARunningReportFromAnOlderEpochIsCancelledAndRequeued) {
  journal_->SetLeaseEpochForTesting(6);
  Join("w1", 1);
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{"a"}}).type);
  sent_.clear();
  // w1 comes back reporting attempt 1 under epoch 5: not the run the journal assigned under epoch 6.
  Join("w1", 1, {"GENERAL"}, {wire::JobRef{.id = "a", .attempt = 1, .epoch = 5}});
  bool cancelled = false;
  for (const auto& o : sent_) cancelled |= o.kind == Outgoing::kWorker && o.msg.type == MsgType::kJobCancel;
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(1, core_->metrics().stale_epoch_results);
  EXPECT_EQ(2, core_->FindJob("a")->attempt) << "requeued and assigned again";
}

TEST_F(StaleEpochTest, WithoutEpochsNothingChanges) {
  Join("w1", 2);  // SQLite: epoch 0, no epochs
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{"a"}}).type);
  EXPECT_EQ(std::nullopt, AssignedEpoch());
  DoneUnder("w1", "a", 1, 3);  // a worker's epoch with none in the journal: attempts alone decide
  EXPECT_EQ("COMPLETED", State("a"));
  EXPECT_EQ(0, core_->metrics().stale_epoch_results);
}

}  // namespace
}  // namespace titan::broker
