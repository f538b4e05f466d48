// `titan audit`: --since as a duration or a time, and the table and JSON of the entries.
#include "cli/audit_view.h"

#include <gtest/gtest.h>

#include "cli/job_view.h"

namespace titan::cli {
namespace {

constexpr int64_t kNow = 1'790'000'000'000;

int64_t Since(std::string_view text) {
  int64_t ms = -1;
  std::string error;
  EXPECT_TRUE(ParseSince(text, kNow, &ms, &error)) << error;
  return ms;
}

TEST(AuditView, SinceIsADurationBeforeNowOrATime) {
  EXPECT_EQ(kNow - 30 * 60'000, Since("30m"));
  EXPECT_EQ(kNow - 2 * 3'600'000, Since("2h"));
  EXPECT_EQ(kNow - 7 * 86'400'000LL, Since("7d"));
  EXPECT_EQ(kNow - 36 * 3'600'000, Since("1.5d"));
  EXPECT_EQ(kNow - 90'000, Since("90"));
  EXPECT_EQ(1'777'593'600'000, Since("2026-05-01T00:00:00Z"));
  EXPECT_EQ(1'777'640'400'000, Since("2026-05-01T13:00Z"));
  EXPECT_EQ("2026-05-01 13:02:03", FormatTime(Since("2026-05-01 13:02:03")));  // local time, as shown
  EXPECT_EQ("2026-05-01 00:00:00", FormatTime(Since("2026-05-01")));
  int64_t ms = 0;
  std::string error;
  EXPECT_FALSE(ParseSince("yesterday", kNow, &ms, &error));
  EXPECT_EQ(
      "--since 'yesterday': give a duration before now (30m, 2h, 7d) or a time (2026-05-01, '2026-05-01 "
      "13:00' in local time, 2026-05-01T13:00:00Z in UTC)",
      error);
  EXPECT_FALSE(ParseSince("1.5sd", kNow, &ms, &error));
  EXPECT_FALSE(ParseSince("2026-05-01T13:00:00+02", kNow, &ms, &error));
}

std::vector<wire::AuditEntry> Entries() {
  return {{.seq = 1,
           .ts_ms = kNow,
           .principal = "alice",
           .action = "JOB_SUBMIT",
           .target = "dag=etl jobs=a,b",
           .outcome = "ok"},
          {.seq = 2,
           .ts_ms = kNow + 1000,
           .principal = "reader-1",
           .action = "AUDIT_LIST",
           .target = "",
           .outcome = "FORBIDDEN"}};
}

TEST(AuditView, TheTableShowsTimePrincipalActionTargetAndOutcome) {
  const std::string t0 = FormatTime(kNow), t1 = FormatTime(kNow + 1000);
  EXPECT_EQ("TIME                 PRINCIPAL  ACTION      TARGET            OUTCOME\n" + t0 +
                "  alice      JOB_SUBMIT  dag=etl jobs=a,b  ok\n" + t1 +
                "  reader-1   AUDIT_LIST  -                 FORBIDDEN\n",
            RenderAuditTable(Entries()));
}

TEST(AuditView, JsonIsAnArrayOfAuditEntries) {
  EXPECT_EQ(
      "[\n {\"seq\":1,\"ts_ms\":1790000000000,\"principal\":\"alice\",\"action\":\"JOB_SUBMIT\","
      "\"target\":\"dag=etl jobs=a,b\",\"outcome\":\"ok\"},\n {\"seq\":2,\"ts_ms\":1790000001000,"
      "\"principal\":\"reader-1\",\"action\":\"AUDIT_LIST\",\"target\":\"\",\"outcome\":\"FORBIDDEN\"}\n]\n",
      RenderAuditJson(Entries()));
  EXPECT_EQ("[]\n", RenderAuditJson({}));
}

}  // namespace
}  // namespace titan::cli
