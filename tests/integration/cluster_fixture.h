// ClusterTest: the fixture of the cluster tests (a started Cluster, the job scripts they submit,
// and waits on those scripts' marker files), shared by cluster_test.cc and cluster_input_test.cc.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/cluster.h"

// Everything here is for the cluster tests only, hence the using-declarations.
namespace titan::cluster_test {

using testing::Cluster;
using testing::Deadline;
using testing::In;
using testing::JobSpec;
using testing::JobView;
using testing::StatsView;
using wire::Datum;
using wire::MsgType;
using wire::Text;
using namespace std::chrono_literals;

inline constexpr auto kDeadline = 30s;  // generous: CI machines are slow and shared

// Notes "start <id>" in events.log, marks itself running (marks/<id>), waits for the gate file $1
// (default "go"), holds $2 seconds, then notes "end <id>". Exits if the test's directory is gone.
// With T_IGNORE_TERM set it ignores SIGTERM, like a job whose cleanup takes a while.
inline constexpr const char* kBlockSh = R"(#!/bin/bash
[ -n "${T_IGNORE_TERM:-}" ] && trap '' TERM
note() { { flock 9; printf '%s %s\n' "$1" "$TITAN_JOB_ID" >> "$T_DIR/events.log"; } 9>>"$T_DIR/events.lock"; }
note start
touch "$T_DIR/marks/$TITAN_JOB_ID"
while [ ! -e "$T_DIR/${1:-go}" ]; do
  [ -d "$T_DIR/marks" ] || exit 3
  sleep 0.05
done
sleep "${2:-0}"
note end
)";

// Writes the wall-clock ms it started at to times/<id>, appends its id to ran.log, prints a line.
inline constexpr const char* kQuickSh = R"(#!/bin/bash
date +%s%3N > "$T_DIR/times/$TITAN_JOB_ID"
{ flock 9; echo "$TITAN_JOB_ID" >> "$T_DIR/ran.log"; } 9>>"$T_DIR/ran.lock"
echo "ran $TITAN_JOB_ID"
)";

// Starts a grandchild that would outlive it, publishes the grandchild's pid atomically, and waits.
inline constexpr const char* kTreeSh = R"(#!/bin/bash
sleep 1000 &
echo $! > "$T_DIR/marks/$TITAN_JOB_ID.pid.tmp"
mv "$T_DIR/marks/$TITAN_JOB_ID.pid.tmp" "$T_DIR/marks/$TITAN_JOB_ID.pid"
wait
)";

class ClusterTest : public ::testing::Test {
 protected:
  // True: the cluster runs with CURVE on (Cluster::EnableCurve).
  virtual bool Curve() const { return false; }
  // More flags for `titan broker`.
  virtual std::vector<std::string> BrokerArgs() const { return {}; }

  void SetUp() override {
    if (Curve()) {
      ASSERT_TRUE(c_.EnableCurve()) << c_.error();
    }
    ASSERT_TRUE(c_.Start(BrokerArgs())) << c_.error();
    std::filesystem::create_directories(c_.Path("marks"));
    std::filesystem::create_directories(c_.Path("times"));
  }

  void AddWorker(const std::string& name, int slots, const std::vector<std::string>& tags = {}) {
    ASSERT_TRUE(c_.AddWorker(name, slots, tags)) << c_.error();
  }

  JobSpec Job(const std::string& id, const std::string& file, const std::string& args = "") {
    JobSpec s;
    s.id = id;
    s.file = file;
    s.args = args;
    s.env = {"T_DIR=" + c_.dir().path()};
    return s;
  }

  std::vector<std::string> Submit(const std::vector<JobSpec>& jobs) {
    const testing::SubmitResult r =
        c_.Submit(jobs, {{"block.sh", kBlockSh}, {"quick.sh", kQuickSh}, {"tree.sh", kTreeSh}});
    EXPECT_EQ("", r.error_code) << r.error;
    return r.ids;
  }

  // Waits until every job in `ids` has created marks/<id> (its process is running).
  bool WaitStarted(const std::vector<std::string>& ids, Deadline deadline) {
    return testing::WaitForFiles(
        c_.Path("marks"),
        [&] {
          return std::all_of(ids.begin(), ids.end(), [&](const std::string& id) {
            return std::filesystem::exists(c_.Path("marks/" + id));
          });
        },
        deadline);
  }

  size_t MarkCount() {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(c_.Path("marks")))
      n += e.path().extension().empty();
    return n;
  }

  void Release(const std::string& gate = "go") { std::ofstream(c_.Path(gate)) << "go\n"; }

  void ExpectAllCompleted(const std::vector<std::string>& ids) {
    const Deadline deadline = In(kDeadline);
    for (const auto& id : ids) {
      const JobView v = c_.WaitFinal(id, deadline);
      EXPECT_EQ("COMPLETED", v.state) << v.Render();
      EXPECT_EQ(0, v.exit_code.value_or(-1)) << v.Render();
    }
  }

  // Lines "<what> <id>" of events.log for `id`.
  int CountEvents(const std::string& what, const std::string& id) {
    const auto lines = testing::ReadLines(c_.Path("events.log"));
    return static_cast<int>(std::count(lines.begin(), lines.end(), what + " " + id));
  }

  Cluster c_;
};

}  // namespace titan::cluster_test
