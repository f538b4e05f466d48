// The cgroup files of job limits and usage, against a fake cgroup tree of plain files in a temporary
// directory: what is written for each limit on v1 and v2, what is read back as usage, and which controls
// a worker's directories offer.
#include "worker/cgroup_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "worker/exec_test_util.h"

namespace titan::exec {
namespace {

using testing::TempDir;

void Put(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

std::string Get(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A v1 job's directories, one per hierarchy, with the files the kernel would have made.
CgroupDirs FakeV1(const std::string& root) {
  CgroupDirs dirs;
  for (const char* h : {"pids", "memory", "cpu", "cpuacct", "cpuset", "blkio"})
    dirs[h] = root + "/" + h + "/job";
  Put(dirs["pids"] + "/pids.max", "max\n");
  Put(dirs["memory"] + "/memory.limit_in_bytes", "9223372036854771712\n");
  Put(dirs["memory"] + "/memory.memsw.limit_in_bytes", "9223372036854771712\n");
  Put(dirs["cpu"] + "/cpu.cfs_quota_us", "-1\n");
  Put(dirs["cpu"] + "/cpu.cfs_period_us", "100000\n");
  Put(dirs["cpuset"] + "/cpuset.cpus", "\n");
  Put(dirs["blkio"] + "/blkio.throttle.read_bps_device", "");
  Put(dirs["blkio"] + "/blkio.throttle.write_bps_device", "");
  return dirs;
}

TEST(CgroupFiles, V1LimitsGoIntoEachHierarchysFiles) {
  TempDir tmp;
  const CgroupDirs job = FakeV1(tmp.path());
  const JobLimits limits{
      .memory_mb = 64, .cpu_percent = 150, .cpus = "0-1", .iobps = 1048576, .processes = 20};
  ASSERT_TRUE(ApplyLimits(CgroupVersion::kV1, job, limits, {"253:0"}).ok());
  EXPECT_EQ("67108864", Get(job.at("memory") + "/memory.limit_in_bytes"));
  EXPECT_EQ("67108864", Get(job.at("memory") + "/memory.memsw.limit_in_bytes"));
  EXPECT_EQ("150000", Get(job.at("cpu") + "/cpu.cfs_quota_us"));
  EXPECT_EQ("100000", Get(job.at("cpu") + "/cpu.cfs_period_us"));
  EXPECT_EQ("0-1", Get(job.at("cpuset") + "/cpuset.cpus"));
  EXPECT_EQ("253:0 1048576", Get(job.at("blkio") + "/blkio.throttle.read_bps_device"));
  EXPECT_EQ("253:0 1048576", Get(job.at("blkio") + "/blkio.throttle.write_bps_device"));
  EXPECT_EQ("20", Get(job.at("pids") + "/pids.max"));
}

TEST(CgroupFiles, NoLimitsWriteNothing) {
  TempDir tmp;
  const CgroupDirs job = FakeV1(tmp.path());
  ASSERT_TRUE(ApplyLimits(CgroupVersion::kV1, job, JobLimits{}, {"253:0"}).ok());
  EXPECT_EQ("max\n", Get(job.at("pids") + "/pids.max"));
  EXPECT_EQ("-1\n", Get(job.at("cpu") + "/cpu.cfs_quota_us"));
}

TEST(CgroupFiles, ALimitWithoutItsHierarchyIsAnErrorNamingIt) {
  TempDir tmp;
  CgroupDirs job = FakeV1(tmp.path());
  job.erase("memory");
  EXPECT_EQ("cannot enforce max_memory: no memory cgroup on this worker",
            ApplyLimits(CgroupVersion::kV1, job, JobLimits{.memory_mb = 64}, {}).message());
}

TEST(CgroupFiles, V2LimitsGoIntoTheOneCgroup) {
  TempDir tmp;
  const std::string d = tmp.path() + "/job";
  for (const char* f : {"memory.max", "memory.swap.max", "cpu.max", "cpuset.cpus", "io.max", "pids.max"})
    Put(d + "/" + f, "max\n");
  const JobLimits limits{.memory_mb = 64, .cpu_percent = 25, .cpus = "2,4", .iobps = 500, .processes = 7};
  ASSERT_TRUE(ApplyLimits(CgroupVersion::kV2, {{"", d}}, limits, {"8:0"}).ok());
  EXPECT_EQ("67108864", Get(d + "/memory.max"));
  EXPECT_EQ("0", Get(d + "/memory.swap.max"));
  EXPECT_EQ("25000 100000", Get(d + "/cpu.max"));
  EXPECT_EQ("2,4", Get(d + "/cpuset.cpus"));
  EXPECT_EQ("8:0 rbps=500 wbps=500", Get(d + "/io.max"));
  EXPECT_EQ("7", Get(d + "/pids.max"));
}

TEST(CgroupFiles, V1UsageIsReadFromTheCounters) {
  TempDir tmp;
  const CgroupDirs job = FakeV1(tmp.path());
  Put(job.at("memory") + "/memory.max_usage_in_bytes", "67108864\n");
  Put(job.at("memory") + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  Put(job.at("cpuacct") + "/cpuacct.usage", "2500000000\n");
  Put(job.at("blkio") + "/blkio.throttle.io_service_bytes",
      "253:0 Read 4096\n253:0 Write 8192\n253:0 Sync 0\n253:0 Total 12288\n7:0 Read 1\nTotal 12289\n");
  const CgroupUsage u = ReadUsage(CgroupVersion::kV1, job);
  EXPECT_EQ(67108864, u.peak_memory_bytes.value_or(-1));
  EXPECT_EQ(2500, u.cpu_ms.value_or(-1));
  EXPECT_EQ(4097, u.io_read_bytes.value_or(-1));
  EXPECT_EQ(8192, u.io_write_bytes.value_or(-1));
  EXPECT_EQ(1, u.oom_kills);
}

TEST(CgroupFiles, V2UsageIsReadFromTheCounters) {
  TempDir tmp;
  const std::string d = tmp.path() + "/job";
  Put(d + "/memory.peak", "1048576\n");
  Put(d + "/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\noom_group_kill 0\n");
  Put(d + "/cpu.stat", "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n");
  Put(d + "/io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2\n");
  const CgroupUsage u = ReadUsage(CgroupVersion::kV2, {{"", d}});
  EXPECT_EQ(1048576, u.peak_memory_bytes.value_or(-1));
  EXPECT_EQ(1234, u.cpu_ms.value_or(-1));
  EXPECT_EQ(101, u.io_read_bytes.value_or(-1));
  EXPECT_EQ(202, u.io_write_bytes.value_or(-1));
  EXPECT_EQ(2, u.oom_kills);
}

TEST(CgroupFiles, MissingCountersAreAbsentNotZero) {
  TempDir tmp;
  const CgroupUsage u = ReadUsage(CgroupVersion::kV2, {{"", tmp.path() + "/gone"}});
  EXPECT_FALSE(u.peak_memory_bytes || u.cpu_ms || u.io_read_bytes || u.io_write_bytes);
  EXPECT_EQ(0, u.oom_kills);
}

// Read anew each time (a v1 kernel caches the list per open file), through the cache's directory
// descriptor or by path; a cgroup that is gone has no list.
TEST(CgroupFiles, AProcessListIsReadFromAFreshFileEachTime) {
  TempDir tmp;
  const std::string cgroup = tmp / "job";
  Put(cgroup + "/cgroup.procs", "12\n34\n");
  CgroupFileCache cache;
  EXPECT_EQ("12\n34\n", ReadProcessList(cgroup, &cache).value_or("none"));
  Put(cgroup + "/cgroup.procs", "");
  EXPECT_EQ("", ReadProcessList(cgroup, &cache).value_or("none"));
  EXPECT_EQ("", ReadProcessList(cgroup).value_or("none"));
  std::filesystem::remove_all(cgroup);
  EXPECT_FALSE(ReadProcessList(cgroup, &cache).has_value());
  EXPECT_FALSE(ReadProcessList(cgroup).has_value());
  EXPECT_FALSE(ReadProcessList(tmp / "never", &cache).has_value());
}

TEST(CgroupFiles, ControlsAreWhatTheDirectoriesCanEnforce) {
  TempDir tmp;
  CgroupDirs v1 = FakeV1(tmp.path());
  auto render = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& c : v) out += (out.empty() ? "" : " ") + c;
    return out;
  };
  EXPECT_EQ("memory cpu cpuset io pids", render(ControlsOf(CgroupVersion::kV1, v1)));
  v1.erase("blkio");
  v1.erase("memory");
  EXPECT_EQ("cpu cpuset pids", render(ControlsOf(CgroupVersion::kV1, v1)));
  const std::string d = tmp.path() + "/v2";
  Put(d + "/cgroup.subtree_control", "cpu io memory pids\n");
  EXPECT_EQ("memory cpu io pids", render(ControlsOf(CgroupVersion::kV2, {{"", d}})));
}

TEST(CgroupFiles, ANewCpusetCgroupGetsItsParentsCpusAndMems) {
  TempDir tmp;
  Put(tmp.path() + "/cpuset.cpus", "0-3\n");
  Put(tmp.path() + "/cpuset.mems", "0\n");
  Put(tmp.path() + "/child/cpuset.cpus", "\n");
  Put(tmp.path() + "/child/cpuset.mems", "\n");
  ASSERT_TRUE(InheritCpuset(tmp.path() + "/child").ok());
  EXPECT_EQ("0-3", Get(tmp.path() + "/child/cpuset.cpus"));
  EXPECT_EQ("0", Get(tmp.path() + "/child/cpuset.mems"));
}

TEST(CgroupFiles, BlockDevicesAreTheDisksOfSysBlock) {
  TempDir tmp;
  Put(tmp.path() + "/vda/dev", "253:0\n");
  Put(tmp.path() + "/loop0/dev", "7:0\n");
  std::filesystem::create_directories(tmp.path() + "/weird");
  EXPECT_EQ((std::vector<std::string>{"253:0", "7:0"}), BlockDevices(tmp.path()));
}

}  // namespace
}  // namespace titan::exec
