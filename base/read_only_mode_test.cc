// ReadOnlyMode: entered and left once each, the refusal's sentence, entries logged at a bounded rate.
#include "base/read_only_mode.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace titan {
namespace {

const Status kFull = ErrnoStatus("cannot write '/data/broker.db-wal'", ENOSPC);

TEST(ReadOnlyModeTest, EntersOnceAndLeavesOnceWithOneLineEach) {
  ReadOnlyMode mode("broker");
  EXPECT_FALSE(mode.active());
  EXPECT_EQ(
      "broker: disk full (cannot write '/data/broker.db-wal': No space left on device); read-only from now: "
      "writes are refused, reads are served; free space in /data and writes resume by themselves",
      mode.Enter(kFull, "/data", 10'000, 1'700'000'000'000));
  EXPECT_TRUE(mode.active());
  EXPECT_EQ("cannot write '/data/broker.db-wal': No space left on device", mode.cause());
  EXPECT_EQ(1'700'000'000'000, mode.since_wall_ms());
  EXPECT_EQ("", mode.Enter(kFull, "/data", 11'000, 1'700'000'001'000));  // already read-only: no second line
  EXPECT_EQ(1'700'000'000'000, mode.since_wall_ms());
  EXPECT_EQ("broker: space is back in /data after 12 s read-only; writes resume", mode.Leave(22'500));
  EXPECT_FALSE(mode.active());
  EXPECT_EQ("", mode.cause());
  EXPECT_EQ("", mode.Leave(23'000));  // not read-only
}

TEST(ReadOnlyModeTest, TheRefusalSaysWhereAndWhatToDo) {
  ReadOnlyMode mode("store");
  (void)mode.Enter(kFull, "/var/titan/store", 0, 0);
  EXPECT_EQ("disk full on the store (/var/titan/store); free space there, Titan resumes by itself",
            mode.Refusal());
}

TEST(ReadOnlyModeTest, ADiskHoveringAtFullIsLoggedAtABoundedRate) {
  ReadOnlyMode mode("broker");
  int logged = 0;
  int64_t now = 0;
  for (int i = 0; i < 3 * ReadOnlyMode::kLoggedPerHour; ++i, now += 1000) {
    if (!mode.Enter(kFull, "/data", now, now).empty()) ++logged;
    const bool left_logged = !mode.Leave(now + 500).empty();
    EXPECT_EQ(logged == i + 1, left_logged) << "an end is logged exactly when its entry was";
  }
  EXPECT_EQ(ReadOnlyMode::kLoggedPerHour, logged);
  const std::string later = mode.Enter(kFull, "/data", now + 3'600'000, 0);
  EXPECT_NE(std::string::npos, later.find("(20 earlier entries into read-only mode were not logged)"))
      << later;
}

}  // namespace
}  // namespace titan
