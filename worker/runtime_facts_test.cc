#include "worker/runtime_facts.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/test_dir.h"

namespace titan::exec {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

void Write(const std::string& path, size_t bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << std::string(bytes, 'x');
}

TEST(RuntimeFacts, AnEnvironmentCountsItsFilesBytesAndListsItsDistributions) {
  TempDir dir;
  Write(dir / "venv/bin/python3", 100);
  fs::permissions(dir / "venv/bin/python3", fs::perms::owner_all);
  Write(dir / "venv/lib/python3.11/site-packages/numpy/__init__.py", 1000);
  Write(dir / "venv/lib/python3.11/site-packages/numpy-1.26.4.dist-info/METADATA", 10);
  Write(dir / "venv/lib/python3.11/site-packages/zmq_extra-0.1.dist-info/METADATA", 10);
  Write(dir / "venv/lib64/python3.11/site-packages/numpy-1.26.4.dist-info/METADATA", 10);  // lib64: once
  Write(dir / "elsewhere/big", 5000);
  fs::create_symlink(dir / "elsewhere/big", dir / "venv/link");  // not followed: not counted
  Result<Runtime> r = ParseRuntime("ml=" + dir / "venv");
  ASSERT_TRUE(r.ok()) << r.message();
  const wire::RuntimeInfo info = MeasureRuntime(*r);
  EXPECT_EQ("ml", info.name);
  EXPECT_EQ(std::optional<int64_t>(100 + 1000 + 10 + 10 + 10), info.size_bytes);
  EXPECT_EQ((std::vector<std::string>{"numpy==1.26.4", "zmq_extra==0.1"}), info.packages.value());
  EXPECT_FALSE(MeasureRuntime(*r, /*max_entries=*/3).size_bytes.has_value()) << "too many to count: absent";
}

TEST(RuntimeFacts, AnInterpreterIsItsFile) {
  TempDir dir;
  Write(dir / "opt/bin/python3.11", 4242);
  fs::permissions(dir / "opt/bin/python3.11", fs::perms::owner_all);
  fs::create_symlink(dir / "opt/bin/python3.11", dir / "opt/bin/python3");
  Result<Runtime> r = ParseRuntime("py311=" + dir / "opt/bin/python3");
  ASSERT_TRUE(r.ok()) << r.message();
  const wire::RuntimeInfo info = MeasureRuntime(*r);
  EXPECT_EQ(std::optional<int64_t>(4242), info.size_bytes);  // the interpreter the link names
  EXPECT_FALSE(info.packages.has_value());
}

TEST(RuntimeFacts, DistributionNames) {
  EXPECT_EQ("numpy==1.26.4", DistributionOf("numpy-1.26.4.dist-info"));
  EXPECT_EQ("typing_extensions==4.12.2", DistributionOf("typing_extensions-4.12.2.dist-info"));
  EXPECT_EQ("", DistributionOf("numpy"));
  EXPECT_EQ("", DistributionOf("-1.0.dist-info"));
  EXPECT_EQ("", DistributionOf("numpy-.dist-info"));
  EXPECT_EQ("", DistributionOf("numpy.dist-info"));
}

}  // namespace
}  // namespace titan::exec
