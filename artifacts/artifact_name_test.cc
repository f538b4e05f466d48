// ValidateName and SplitArchivePath, as tables.
#include "artifacts/artifact_name.h"

#include <gtest/gtest.h>

namespace titan::artifacts {
namespace {

TEST(ValidateName, AcceptsRelativeNames) {
  for (const std::string name : {"a", "run.py", "scripts/run.py", "a/b/c/d.txt", ".hidden", "a/.b/..c",
                                 "x..y", "proj.zip/src/main.py", "with space/and-dash_ok~"}) {
    Status s = ValidateName(name);
    EXPECT_TRUE(s.ok()) << name << ": " << s.message();
  }
  EXPECT_TRUE(ValidateName(std::string(255, 'a') + "/" + std::string(255, 'b')).ok());
  std::string longest(1024, 'a');  // 1024 bytes in components of at most 223
  for (size_t at : {200, 400, 600, 800}) longest[at] = '/';
  EXPECT_TRUE(ValidateName(longest).ok());
}

TEST(ValidateName, RefusesEachBadFormNamingIt) {
  struct Case {
    std::string name, quoted, says;
  };
  const std::string long_name =
      std::string(1025, 'a').replace(100, 1, "/").replace(400, 1, "/").replace(800, 1, "/");
  const Case cases[] = {
      {"", "''", "empty"},
      {"/etc/passwd", "'/etc/passwd'", "without the leading '/'"},
      {"../etc/passwd", "'../etc/passwd'", "without '..' components"},
      {"a/../../b", "'a/../../b'", "without '..' components"},
      {"a/..", "'a/..'", "without '..' components"},
      {"..", "'..'", "without '..' components"},
      {".", "'.'", "'.' components"},
      {"a/./b", "'a/./b'", "'.' components"},
      {"a//b", "'a//b'", "empty component"},
      {"a/", "'a/'", "empty component"},
      {"a\\b", "'a\\b'", "backslash"},
      {std::string("a\0b", 3), "'a\\x00b'", "control character"},
      {"a\nb", "'a\\x0ab'", "control character"},
      {"a\x7f", "'a\\x7f'", "control character"},
      {std::string(256, 'c'), "'" + std::string(128, 'c') + "...'", "longer than 255 bytes"},
      {long_name, "'" + long_name.substr(0, 128) + "...'", "longer than 1024 bytes"},
  };
  for (const Case& c : cases) {
    Status s = ValidateName(c.name);
    ASSERT_FALSE(s.ok()) << c.quoted;
    EXPECT_EQ(0u, s.message().find("artifact name " + c.quoted + " ")) << s.message();
    EXPECT_NE(std::string::npos, s.message().find(c.says)) << s.message();
  }
  EXPECT_EQ("artifact name '../etc/passwd' is not allowed: use a relative name without '..' components",
            ValidateName("../etc/passwd").message());
}

TEST(SplitArchivePath, SplitsAtTheFirstZipComponent) {
  struct Case {
    std::string file;
    std::optional<ArchivePath> want;
  };
  const Case cases[] = {
      {"proj.zip/src/main.py", ArchivePath{"proj.zip", "src/main.py"}},
      {"a/b/proj.zip/main.py", ArchivePath{"a/b/proj.zip", "main.py"}},
      {"Proj.ZIP/main.py", ArchivePath{"Proj.ZIP", "main.py"}},
      {"a.zip/b.zip/c", ArchivePath{"a.zip", "b.zip/c"}},
      {"proj.zip", std::nullopt},
      {"proj.zip/", std::nullopt},
      {"a/proj.zip", std::nullopt},
      {"src/main.py", std::nullopt},
      {"zip/main.py", std::nullopt},
      {"proj.zipx/main.py", std::nullopt},
      {"", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.want, SplitArchivePath(c.file)) << c.file;
  }
}

}  // namespace
}  // namespace titan::artifacts
