// Journal corruption, in the manner of LevelDB's corruption_test: a journal written by the broker is
// damaged on purpose (a garbage spec, an unknown state, a spec field of the wrong type, a DAG whose job
// list does not decode, a schedule with a bad definition, a file cut short or overwritten), then the
// broker starts on it. Without --salvage it refuses, naming the row and what is wrong; with it, it
// skips what it cannot read and runs on. A damaged file refuses either way.
#include <filesystem>
#include <fstream>

#include "base/sqlite_db.h"
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class JournalCorruptionTest : public BrokerCoreTest {
 protected:
  // Jobs a, b (a's child), c in DAG "d", and a schedule "nightly"; then the broker stops.
  void SetUp() override {
    BrokerCoreTest::SetUp();
    Join("w1", 4);
    ASSERT_EQ(MsgType::kJobAccepted, Submit({{"a"}, {"b", {"a"}}, {"c"}}, "d").type);
    Done("w1", "c", 0);
    ASSERT_EQ(MsgType::kOk, AddSchedule("nightly", "0 3 * * *", {{"x"}}).type);
    Stop();
  }

  // Runs `sql` on the stopped broker's journal, as a disk or a hand might.
  void Damage(const std::string& sql) {
    sqlite::Db db;
    ASSERT_TRUE(db.Open(dir_.File("broker.db"), true).ok());
    const Status s = db.Exec(sql);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  // Starts without and then with --salvage: the refusal, and what the salvaged broker holds.
  std::string RefusalThenSalvage() {
    const Status refused = Start();
    EXPECT_FALSE(refused.ok());
    Stop();
    config_.salvage = true;
    const Status salvaged = Start();
    EXPECT_TRUE(salvaged.ok()) << salvaged.message();
    return refused.message();
  }

  // The salvaged broker still works: a new job is journaled (its seq past every row, skipped or not),
  // and survives another restart.
  void ExpectItRunsOn() {
    Join("w1", 4);
    ASSERT_EQ(MsgType::kJobAccepted, Submit({{"fresh"}}).type);
    EXPECT_EQ("RUNNING", State("fresh"));
    Stop();
    Open();
    EXPECT_EQ("RUNNING", State("fresh"));
  }

  // What a broker says of a journal file SQLite cannot read.
  std::string Damaged(const std::string& sqlite_says) {
    const std::string path = dir_.File("broker.db");
    return "the journal " + path + " is damaged (sqlite: " + sqlite_says +
           " (in: PRAGMA journal_mode=WAL)): SQLite cannot read it, so --salvage cannot either. Move it "
           "aside "
           "to start with an empty journal, or rebuild it from what SQLite can still read (`sqlite3 " +
           path + " .recover | sqlite3 recovered.db`) and put that in its place";
  }

  static std::string Hex(std::string_view bytes) {
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) out += {kDigits[c >> 4], kDigits[c & 15]};
    return out;
  }
  static std::string Msgpack(const Datum& d) {
    std::string out;
    wire::EncodeMsgpack(d, &out);
    return "x'" + Hex(out) + "'";
  }
};

TEST_F(JournalCorruptionTest, AGarbageSpecIsReportedOrSkipped) {
  Damage("UPDATE jobs SET spec = x'c1ffee' WHERE CAST(id AS TEXT) = 'b'");
  EXPECT_EQ(
      "journal row seq 2 (job 'b') has a spec that does not decode (msgpack body is malformed: parse "
      "error); start with --salvage to skip such rows (they are logged and left in the file)",
      RefusalThenSalvage());
  EXPECT_EQ("UNKNOWN", State("b"));
  EXPECT_EQ("RUNNING", State("a"));
  EXPECT_EQ("COMPLETED", State("c"));
  ExpectItRunsOn();
}

TEST_F(JournalCorruptionTest, AnUnknownStateIsReportedOrSkipped) {
  Damage("UPDATE jobs SET state = 'BOGUS' WHERE CAST(id AS TEXT) = 'a'");
  EXPECT_EQ(
      "journal row seq 1 (job 'a') has unknown state 'BOGUS'; start with --salvage to skip such rows "
      "(they are logged and left in the file)",
      RefusalThenSalvage());
  EXPECT_EQ("UNKNOWN", State("a"));
  EXPECT_EQ("BLOCKED", State("b"));  // its parent is gone: it waits until stopped
  ExpectItRunsOn();
}

TEST_F(JournalCorruptionTest, ASpecFieldOfTheWrongTypeIsReportedOrSkipped) {
  Damage("UPDATE jobs SET spec = " +
         Msgpack(Datum(wire::Map{{"id", S("c")}, {"file", S("job.sh")}, {"priority", S("high")}})) +
         " WHERE CAST(id AS TEXT) = 'c'");
  EXPECT_EQ(
      "journal row seq 3 (job 'c') has a spec the schema refuses (JOB_SUBMIT.jobs[0] field 'priority' "
      "must be int); start with --salvage to skip such rows (they are logged and left in the file)",
      RefusalThenSalvage());
  EXPECT_EQ("UNKNOWN", State("c"));
  ExpectItRunsOn();
}

TEST_F(JournalCorruptionTest, ADagWithAnUndecodableJobListIsReportedOrSkipped) {
  Damage("UPDATE dags SET job_ids = x'93a161' WHERE CAST(id AS TEXT) = 'd'");  // a list of 3 holding 1
  EXPECT_EQ(
      "journal DAG row seq 1 ('d') has a job list that is not a msgpack list of ids (msgpack body is "
      "truncated); start with --salvage to skip such rows (they are logged and left in the file)",
      RefusalThenSalvage());
  EXPECT_FALSE(Client(wire::DagGetMsg{.id = "d"}.ToMessage()).Bool("found"));
  EXPECT_EQ("RUNNING", State("a"));
  ExpectItRunsOn();
}

TEST_F(JournalCorruptionTest, AScheduleWithABadDefinitionIsReportedOrSkipped) {
  Damage("UPDATE schedules SET definition = " +
         Msgpack(Datum(wire::Map{{"cron", S("0 3 * * *")}, {"jobs", S("x")}})) +
         " WHERE CAST(name AS TEXT) = 'nightly'");
  EXPECT_EQ(
      "journal schedule 'nightly' has a definition the schema refuses (SCHEDULE_ADD field 'jobs' must "
      "be list<JobSpec>); start with --salvage to skip such rows (they are logged and left in the file)",
      RefusalThenSalvage());
  const Message list = Client(wire::ScheduleListMsg{}.ToMessage());
  EXPECT_EQ("[]", wire::Render(*list.Find("schedules")));
  ExpectItRunsOn();
}

TEST_F(JournalCorruptionTest, AScheduleWithABadCronIsReported) {
  Damage("UPDATE schedules SET definition = " +
         Msgpack(Datum(wire::Map{
             {"cron", S("61 * * * *")}, {"jobs", Datum(wire::List{})}, {"files", Datum(wire::List{})}})) +
         " WHERE CAST(name AS TEXT) = 'nightly'");
  EXPECT_EQ(
      "journal schedule 'nightly' has a cron expression that does not parse (cron field 1 '61' is not a "
      "valid minute (0-59)); start with --salvage to skip such rows (they are logged and left in the file)",
      RefusalThenSalvage());
}

TEST_F(JournalCorruptionTest, AFileCutShortRefusesToStartEvenWithSalvage) {
  // Enough rows that the tables span many pages, then the second half of the file is gone.
  Open();
  for (int i = 0; i < 100; ++i) Submit({{"bulk" + std::to_string(i)}});
  Stop();
  const auto size = std::filesystem::file_size(dir_.File("broker.db"));
  std::filesystem::resize_file(dir_.File("broker.db"), size / 2);
  const Status refused = Start();
  EXPECT_EQ(Damaged("database disk image is malformed"), refused.message());
  Stop();
  config_.salvage = true;
  EXPECT_EQ(refused.message(), Start().message());
}

TEST_F(JournalCorruptionTest, AGarbageFileRefusesToStartEvenWithSalvage) {
  std::ofstream(dir_.File("broker.db"), std::ios::trunc) << std::string(8192, 'x');
  std::filesystem::remove(dir_.File("broker.db-wal"));
  const Status refused = Start();
  EXPECT_EQ(Damaged("file is not a database"), refused.message());
  config_.salvage = true;
  EXPECT_EQ(refused.message(), Start().message());
}

}  // namespace
}  // namespace titan::broker
