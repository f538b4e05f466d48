// Renderings of JobInfo and STATS: the table, the status page, JSON, durations.
#include "cli/job_view.h"

#include <gtest/gtest.h>

#include "cli/machine_view.h"

namespace titan::cli {
namespace {

using wire::Datum;
using wire::List;
using wire::Map;
using wire::Text;

Datum Job(std::string id, std::string state, Map extra = {}) {
  Map m{{"id", Datum(Text{std::move(id)})},
        {"state", Datum(Text{std::move(state)})},
        {"file", Datum(Text{"etl.py"})},
        {"requirement", Datum(Text{"GENERAL"})},
        {"priority", Datum(1)},
        {"attempt", Datum(1)},
        {"parents", Datum(List{})},
        {"submitted_ms", Datum(int64_t{1'000'000})}};
  for (auto& kv : extra) m.push_back(std::move(kv));
  return Datum(std::move(m));
}

TEST(FormatDuration, PicksTwoUnits) {
  EXPECT_EQ("850ms", FormatDuration(850));
  EXPECT_EQ("12s", FormatDuration(12'400));
  EXPECT_EQ("3m04s", FormatDuration(184'000));
  EXPECT_EQ("2h05m", FormatDuration((2 * 3600 + 5 * 60) * 1000));
  EXPECT_EQ("3d04h", FormatDuration(int64_t{(3 * 86400 + 4 * 3600)} * 1000));
  EXPECT_EQ("-", FormatDuration(-1));
}

TEST(JobTable, AlignsColumnsAndShowsRunTime) {
  const std::vector<JobView> jobs{
      JobFromDatum(Job("etl-1a2b3c4d", "RUNNING",
                       {{"worker", Datum(Text{"h-w1"})}, {"started_ms", Datum(int64_t{1'002'000})}})),
      JobFromDatum(Job("x", "QUEUED")),
  };
  EXPECT_EQ(
      "ID            STATE    WORKER  ATTEMPT  AGE  DURATION\n"
      "etl-1a2b3c4d  RUNNING  h-w1    1        10s  8s\n"
      "x             QUEUED   -       1        10s  -\n",
      RenderJobTable(jobs, 1'010'000));
}

TEST(ServiceTable, ShowsReadinessPortUptimeAndRestarts) {
  const Map service{{"worker", Datum(Text{"h-w1"})},
                    {"started_ms", Datum(int64_t{1'000'000})},
                    {"job_type", Datum(Text{"SERVICE"})},
                    {"port", Datum(8080)},
                    {"restarts", Datum(2)},
                    {"ready", Datum(true)}};
  const std::vector<JobView> services{
      JobFromDatum(Job("api", "RUNNING", service)),
      JobFromDatum(Job("old", "CANCELLED", {{"job_type", Datum(Text{"SERVICE"})}}))};
  EXPECT_EQ(
      "ID   STATE      READY  WORKER  PORT  UPTIME  RESTARTS\n"
      "api  RUNNING    yes    h-w1    8080  1m05s   2\n"
      "old  CANCELLED  -      -       -     -       0\n",
      RenderServiceTable(services, 1'065'000));
  EXPECT_EQ("no services: deploy one with `titan deploy FILE --port P`\n", RenderServiceTable({}, 0));
}

TEST(JobsJson, EscapesAndUsesNullForAbsentFields) {
  const std::vector<JobView> jobs{JobFromDatum(
      Job("a\"b", "FAILED", {{"exit_code", Datum(3)}, {"reason", Datum(Text{"line1\nline2\t\x01"})}}))};
  EXPECT_EQ(
      "[\n "
      "{\"id\":\"a\\\"b\",\"state\":\"FAILED\",\"file\":\"etl.py\",\"requirement\":\"GENERAL\",\"priority\":"
      "1,"
      "\"attempt\":1,\"parents\":[],\"worker\":null,\"exit_code\":3,\"reason\":\"line1\\nline2\\t\\u0001\","
      "\"submitted_ms\":1000000,\"started_ms\":null,\"finished_ms\":null,\"dag\":null,\"kind\":null,"
      "\"message\":null,\"decided_by\":null,\"job_type\":null,\"port\":null,\"restarts\":null,\"ready\":null,"
      "\"run\":1,\"up_since_ms\":null,\"secret_env\":null,\"log_truncated\":false}\n]\n",
      RenderJobsJson(jobs));
  EXPECT_EQ("[]\n", RenderJobsJson({}));
}

TEST(JsonString, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ("\"caf\xc3\xa9 \\\\\"", JsonString("caf\xc3\xa9 \\"));
  EXPECT_EQ("\"a\\ufffdb\"", JsonString("a\xff"
                                        "b"));
}

TEST(JobStatus, ListsKnownFieldsOnly) {
  const JobView job = JobFromDatum(
      Job("etl-1", "FAILED",
          {{"worker", Datum(Text{"h-w2"})}, {"exit_code", Datum(2)}, {"reason", Datum(Text{"exit 2"})}}));
  const std::string text = RenderJobStatus(job, 1'005'000);
  EXPECT_NE(std::string::npos, text.find("state:      FAILED\n"));
  EXPECT_NE(std::string::npos, text.find("exit code:  2\n"));
  EXPECT_NE(std::string::npos, text.find("(5s ago)"));
  EXPECT_EQ(std::string::npos, text.find("started:"));
  EXPECT_EQ(std::string::npos, text.find("parents:"));
}

TEST(Gates, ShowTheirQuestionAndWhoDecided) {
  Map gate{{"kind", Datum(Text{"GATE"})},
           {"message", Datum(Text{"Publish?"})},
           {"reason", Datum(Text{"approved by bob"})},
           {"decided_by", Datum(Text{"bob"})}};
  const JobView approved = JobFromDatum(Job("hitl-gate-T", "COMPLETED", gate));
  const std::string text = RenderJobStatus(approved, 1'005'000);
  EXPECT_NE(std::string::npos, text.find("gate:       \"Publish?\"\n"));
  EXPECT_NE(std::string::npos, text.find("decided by: bob\n"));
  EXPECT_EQ(std::string::npos, text.find("decide:"));
  const JobView waiting = JobFromDatum(Job("hitl-gate-U", "WAITING_APPROVAL",
                                           {{"kind", Datum(Text{"GATE"})}, {"message", Datum(Text{"Go?"})}}));
  EXPECT_NE(std::string::npos,
            RenderJobStatus(waiting, 1'005'000)
                .find("decide:     titan approve hitl-gate-U  |  titan reject hitl-gate-U\n"));
  EXPECT_EQ(
      "ID           STATE             WORKER  ATTEMPT  AGE  DURATION  GATE\n"
      "hitl-gate-T  COMPLETED         -       1        5s   -         \"Publish?\" approved by bob\n"
      "hitl-gate-U  WAITING_APPROVAL  -       1        5s   -         \"Go?\" waiting: titan approve|reject "
      "hitl-gate-U\n"
      "x            QUEUED            -       1        5s   -\n",
      RenderJobTable({approved, waiting, JobFromDatum(Job("x", "QUEUED"))}, 1'005'000));
  EXPECT_NE(
      std::string::npos,
      RenderJobsJson({approved}).find(",\"kind\":\"GATE\",\"message\":\"Publish?\",\"decided_by\":\"bob\","));
}

TEST(DescribeOutcome, NamesExitCodeReasonAndAttempts) {
  EXPECT_EQ("COMPLETED", DescribeOutcome(JobFromDatum(Job("a", "COMPLETED", {{"exit_code", Datum(0)}}))));
  JobView failed = JobFromDatum(Job("a", "FAILED", {{"exit_code", Datum(3)}}));
  EXPECT_EQ("FAILED: exit code 3", DescribeOutcome(failed));
  failed.attempt = 2;
  EXPECT_EQ("FAILED: exit code 3, 2 attempts", DescribeOutcome(failed));
  failed.reason = "exit 3 (all 2 attempts failed)";
  EXPECT_EQ("FAILED: exit 3 (all 2 attempts failed)", DescribeOutcome(failed));
}

// A READY worker with 4 slots.
wire::WorkerInfo Worker(std::string name, int64_t busy, std::vector<std::string> capabilities,
                        std::vector<std::string> running = {}, std::optional<int64_t> port = std::nullopt) {
  return wire::WorkerInfo{.name = std::move(name),
                          .host = "h",
                          .slots = 4,
                          .busy = busy,
                          .capabilities = std::move(capabilities),
                          .state = "READY",
                          .running = std::move(running),
                          .seen_ms_ago = 10,
                          .port = port};
}

TEST(Stats, RendersTheMonitorScreen) {
  const wire::StatsMsg stats{.workers = {Worker("h-w1", 2, {"GENERAL"}, {"a", "b"})},
                             .pending = 0,
                             .blocked = 1,
                             .scheduled = 0,
                             .queued = 3,
                             .running = 2,
                             .unsatisfiable = 0,
                             .completed = 7,
                             .failed = 1};
  EXPECT_EQ(
      "--- TITAN SYSTEM MONITOR ---\n"
      "Active Workers:    1\n"
      "Execution Queue:   3 jobs\n"
      "Blocked (DAG):     1 jobs\n"
      "Scheduled:         0 jobs\n"
      "Running:           2 jobs\n"
      "Unsatisfiable:     0 jobs\n"
      "Finished:          7 completed, 1 failed\n"
      "-------------------------------\n"
      "Worker Status:\n"
      " \u2022 [h-w1] Load: 2/4 (50%)    | Skills: [GENERAL]\n"
      "    \u2514\u2500\u2500 a\n"
      "    \u2514\u2500\u2500 b\n",
      RenderStats(stats));
}

TEST(Stats, ShowsTheAddressPortNextToTheWorkerAsTheOriginalDid) {
  const wire::StatsMsg stats{.workers = {Worker("w1", 0, {"GENERAL", "GPU"}),
                                         Worker("worker-8081", 0, {"GENERAL", "GPU"}, {}, 8081)}};
  const std::string screen = RenderStats(stats);
  EXPECT_NE(std::string::npos,
            screen.find(" \u2022 [w1]                 Load: 0/4 (0%)     | Skills: [GENERAL, GPU]\n"
                        " \u2022 [worker-8081] [8081] Load: 0/4 (0%)     | Skills: [GENERAL, GPU]\n"))
      << screen;
}

TEST(Stats, ShowsEachWorkersMachineUnderItWhenItReportedOne) {
  wire::WorkerInfo w = Worker("w1", 0, {"GENERAL"});
  w.machine = wire::MachineStats{.cpu_permille = 423,
                                 .cpus = 8,
                                 .mem_used_bytes = int64_t{3} << 30,
                                 .mem_total_bytes = int64_t{16} << 30,
                                 .load1_milli = 1520,
                                 .disk_free_bytes = int64_t{120} << 30,
                                 .gpus = std::vector<wire::GpuStats>{{.index = 0,
                                                                      .name = "A100",
                                                                      .util_pct = 87,
                                                                      .mem_used_bytes = int64_t{30} << 30,
                                                                      .mem_total_bytes = int64_t{40} << 30}}};
  const std::string screen = RenderStats(wire::StatsMsg{.workers = {w, Worker("w2", 0, {"GENERAL"})}});
  EXPECT_NE(
      std::string::npos,
      screen.find(
          " \u2022 [w1] Load: 0/4 (0%)     | Skills: [GENERAL]\n"
          "    CPU 42% of 8 | Mem 3.0/16.0 GiB | Load 1.52 | Disk free 120.0 GiB | GPU0 87% 30.0/40.0 GiB\n"
          " \u2022 [w2] Load: 0/4 (0%)     | Skills: [GENERAL]\n"))
      << screen;
  EXPECT_EQ("", RenderMachine(wire::MachineStats{}));
}

// Keyed by the schema's names, in schema order; absent optional fields (parent, scaling) left out.
TEST(StatsJson, IsTheStatsReplyAsOneObject) {
  const wire::StatsMsg stats{.workers = {Worker("w\"1", 1, {"GENERAL"}, {"a"}, 8081)}, .queued = 3};
  EXPECT_EQ(
      "{\"workers\":[{\"name\":\"w\\\"1\",\"host\":\"h\",\"slots\":4,\"busy\":1,\"capabilities\":["
      "\"GENERAL\"],"
      "\"state\":\"READY\",\"running\":[\"a\"],\"seen_ms_ago\":10,\"port\":8081}],\"pending\":0,\"blocked\":"
      "0,"
      "\"scheduled\":0,\"queued\":3,\"running\":0,\"unsatisfiable\":0,\"completed\":0,\"failed\":0}\n",
      RenderStatsJson(stats));
}

}  // namespace
}  // namespace titan::cli
