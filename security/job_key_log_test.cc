#include "security/job_key_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "base/test_dir.h"
#include "security/curve_keys.h"

namespace titan::security {
namespace {

Principal Job(const std::string& name) {
  return Principal{name, NewKeypair().value().public_key, Role::kSubmitter, 0, 0};
}

std::vector<std::string> Names(const Principals& p) {
  std::vector<std::string> names;
  for (const Principal& x : p.all()) names.push_back(x.name);
  return names;
}

TEST(JobKeyLog, AReaderFollowsWhatTheWriterAppendsAndAFreshFileAfterCompaction) {
  titan::testing::TempDir dir;
  const std::string path = dir / "jobs.log";
  Principals live, seen;
  JobKeyWriter writer(path);
  JobKeyReader reader(path);
  ASSERT_TRUE(reader.Follow(&seen).ok());  // no file yet: nobody
  EXPECT_TRUE(seen.all().empty());

  const Principal a = Job("job-a"), b = Job("job-b");
  for (const Principal& p : {a, b}) {
    ASSERT_TRUE(live.Add(p).ok());
    writer.Added(p);
  }
  ASSERT_TRUE(writer.Flush(live).ok());
  struct stat st {};
  ASSERT_EQ(0, ::stat(path.c_str(), &st));
  EXPECT_EQ(0600u, st.st_mode & 0777);
  ASSERT_TRUE(reader.Follow(&seen).ok());
  EXPECT_EQ((std::vector<std::string>{"job-a", "job-b"}), Names(seen));
  EXPECT_EQ(b.public_key, seen.FindName("job-b")->public_key);

  live.Remove("job-a");
  writer.Removed("job-a");
  ASSERT_TRUE(writer.Flush(live).ok());
  ASSERT_TRUE(reader.Follow(&seen).ok());
  EXPECT_EQ((std::vector<std::string>{"job-b"}), Names(seen));

  // Many runs come and go: the log is compacted to the live keys, and the reader reads the new file whole.
  for (int i = 0; i < 2000; ++i) {
    const Principal p = Job("job-run-" + std::to_string(i));
    writer.Added(p);
    writer.Removed(p.name);
    ASSERT_TRUE(writer.Flush(live).ok());
  }
  ASSERT_EQ(0, ::stat(path.c_str(), &st));
  EXPECT_LT(st.st_size, 64 * 1024 + 200);
  ASSERT_TRUE(reader.Follow(&seen).ok());
  EXPECT_EQ((std::vector<std::string>{"job-b"}), Names(seen));
}

TEST(JobKeyLog, AHalfWrittenLineWaitsForItsEndAndGarbageIsSkippedAndReported) {
  titan::testing::TempDir dir;
  const std::string path = dir / "jobs.log";
  const Principal a = Job("job-a");
  const std::string line = "+ job-a " + a.public_key + "\n";
  std::ofstream(path) << line.substr(0, 10);
  Principals seen;
  JobKeyReader reader(path);
  ASSERT_TRUE(reader.Follow(&seen).ok());
  EXPECT_TRUE(seen.all().empty());
  std::ofstream(path, std::ios::app) << line.substr(10) << "+ job-b not-a-key\n"
                                     << "? what\n";
  const Status s = reader.Follow(&seen);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string::npos, s.message().find("2 malformed lines")) << s.message();
  EXPECT_EQ((std::vector<std::string>{"job-a"}), Names(seen));
}

}  // namespace
}  // namespace titan::security
