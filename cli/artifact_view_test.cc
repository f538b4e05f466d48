// Renderings of artifacts: sizes, rates, the list table and JSON, progress and summary lines.
#include "cli/artifact_view.h"

#include <gtest/gtest.h>

#include "cli/job_view.h"

namespace titan::cli {
namespace {

using wire::Datum;
using wire::Map;
using wire::Text;

const std::string kHash = "ab12cd34ef56" + std::string(52, '0');

ArtifactView Artifact(std::string space, std::string name, int64_t size) {
  return ArtifactView{std::move(space), std::move(name), kHash, size, 1'700'000'000'000};
}

TEST(ArtifactViewTest, FormatsBytesInBinaryUnits) {
  EXPECT_EQ("0 B", FormatBytes(0));
  EXPECT_EQ("1023 B", FormatBytes(1023));
  EXPECT_EQ("1.0 KiB", FormatBytes(1024));
  EXPECT_EQ("1.5 KiB", FormatBytes(1536));
  EXPECT_EQ("100.0 MiB", FormatBytes(100LL << 20));
  EXPECT_EQ("1.0 GiB", FormatBytes(1LL << 30));
  EXPECT_EQ("2.5 TiB", FormatBytes(5LL << 39));
}

TEST(ArtifactViewTest, FormatsRatesInDecimalMegabytes) {
  EXPECT_EQ("310 MB/s", FormatRate(310'000'000, 1.0));
  EXPECT_EQ("4.2 MB/s", FormatRate(8'400'000, 2.0));
  EXPECT_EQ("0.05 MB/s", FormatRate(50'000, 1.0));
  EXPECT_EQ("0 MB/s", FormatRate(1000, 0));
}

TEST(ArtifactViewTest, ShortensHashes) {
  EXPECT_EQ("ab12cd34ef56\u2026", ShortHash(kHash));
  EXPECT_EQ("abc", ShortHash("abc"));
}

TEST(ArtifactViewTest, ReadsArtifactInfo) {
  const Datum d(Map{{"space", Datum(Text{"uploads"})},
                    {"name", Datum(Text{"a/b.bin"})},
                    {"sha256", Datum(Text{kHash})},
                    {"size", Datum(int64_t{42})},
                    {"created_ms", Datum(int64_t{7})}});
  const ArtifactView a = ArtifactFromDatum(d);
  EXPECT_EQ("uploads a/b.bin 42 7",
            a.space + " " + a.name + " " + std::to_string(a.size) + " " + std::to_string(a.created_ms));
  EXPECT_EQ(kHash, a.sha256);
  EXPECT_EQ("", ArtifactFromDatum(Datum(int64_t{1})).name);
}

TEST(ArtifactViewTest, RendersTheListTable) {
  const std::string when = FormatTime(1'700'000'000'000);
  EXPECT_EQ(
      "SPACE       NAME      SIZE       SHA256        CREATED\n"
      "uploads     x.bin     100.0 MiB  ab12cd34ef56  " +
          when +
          "\n"
          "perm_files  proj.zip  12 B       ab12cd34ef56  " +
          when + "\n",
      RenderArtifactTable(
          {Artifact("uploads", "x.bin", 100LL << 20), Artifact("perm_files", "proj.zip", 12)}));
  EXPECT_EQ("SPACE  NAME  SIZE  SHA256  CREATED\n", RenderArtifactTable({}));
}

TEST(ArtifactViewTest, RendersJson) {
  EXPECT_EQ("[]\n", RenderArtifactsJson({}));
  EXPECT_EQ("[\n {\"space\":\"uploads\",\"name\":\"q\\\"x\",\"sha256\":\"" + kHash +
                "\",\"size\":5,\"created_ms\":1700000000000}\n]\n",
            RenderArtifactsJson({Artifact("uploads", "q\"x", 5)}));
}

TEST(ArtifactViewTest, RendersProgress) {
  EXPECT_EQ("uploading uploads/x.bin  0 B / 100.0 MiB  0%",
            RenderProgress("uploading", "uploads/x.bin", 0, 100LL << 20, 0.5));
  // 40 MiB of 100 MiB in 2 s: 21 MB/s, 60 MiB left at that pace is 3 s.
  EXPECT_EQ("uploading uploads/x.bin  40.0 MiB / 100.0 MiB  40%  21.0 MB/s  0:03 left",
            RenderProgress("uploading", "uploads/x.bin", 40LL << 20, 100LL << 20, 2.0));
  EXPECT_EQ("hashing big  1.0 GiB / 10.0 GiB  10%  1.2 MB/s  2:15:00 left",
            RenderProgress("hashing", "big", 1LL << 30, 10LL << 30, 900));
  EXPECT_EQ("downloading e  0 B / 0 B  100%", RenderProgress("downloading", "e", 0, 0, 1));
}

TEST(ArtifactViewTest, RendersTheSummaryLine) {
  EXPECT_EQ("uploaded uploads/x.bin: 100.0 MiB, sha256 ab12cd34ef56\u2026, 105 MB/s",
            RenderSummary("uploaded", Artifact("uploads", "x.bin", 100LL << 20), "", 1.0));
  EXPECT_EQ("downloaded uploads/x.bin to ./x.bin: 100.0 MiB, sha256 ab12cd34ef56\u2026, 52.4 MB/s",
            RenderSummary("downloaded", Artifact("uploads", "x.bin", 100LL << 20), "to ./x.bin", 2.0));
}

}  // namespace
}  // namespace titan::cli
