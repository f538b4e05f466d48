// PackFolder and Unpack: byte-exact round trips keeping the exec bit, and hostile zips (paths and
// links leading outside, bombs, too many entries) refused without writing outside the folder.
#include "artifacts/zip_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "artifacts/test_files.h"
#include "base/test_dir.h"

namespace titan::artifacts {
namespace {

namespace fs = std::filesystem;
using testing::RandomBytes;
using testing::ReadFile;
using testing::WriteFile;
using titan::testing::TempDir;

struct ZipEntry {
  std::string name;
  std::string content;
  mode_t type = AE_IFREG;
  std::string link;  // for AE_IFLNK
};

// Writes `entries` as a zip at `path` with libarchive, names exactly as given.
void WriteZip(const std::string& path, const std::vector<ZipEntry>& entries) {
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  ASSERT_EQ(ARCHIVE_OK, archive_write_open_filename(a, path.c_str()));
  for (const ZipEntry& z : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, z.name.c_str());
    archive_entry_set_filetype(e, z.type);
    archive_entry_set_perm(e, 0644);
    if (z.type == AE_IFLNK) archive_entry_set_symlink(e, z.link.c_str());
    if (z.type == AE_IFREG) archive_entry_set_size(e, static_cast<la_int64_t>(z.content.size()));
    EXPECT_EQ(ARCHIVE_OK, archive_write_header(a, e)) << archive_error_string(a);
    if (!z.content.empty()) archive_write_data(a, z.content.data(), z.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

// Every path under `dir`, relative, sorted: "d/" for folders, "l->target" for links, "f*" for
// executables, "f" for other files.
std::string Tree(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    std::string rel = e.path().lexically_relative(dir).string();
    if (e.is_symlink()) {
      rel += "->" + fs::read_symlink(e.path()).string();
    } else if (e.is_directory()) {
      rel += "/";
    } else if ((fs::status(e.path()).permissions() & fs::perms::owner_exec) != fs::perms::none) {
      rel += "*";
    }
    out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  std::string joined;
  for (const std::string& s : out) joined += (joined.empty() ? "" : " ") + s;
  return joined;
}

TEST(Archive, PackThenUnpackGivesIdenticalBytesAndKeepsTheExecBit) {
  TempDir dir;
  const std::string src = dir.File("src");
  fs::create_directories(src + "/lib/deep/er");
  fs::create_directories(src + "/empty");
  const std::string big = RandomBytes((2 << 20) + 77, 11);
  const std::string small = RandomBytes(1000, 12);
  WriteFile(src + "/lib/deep/er/data.bin", big);
  WriteFile(src + "/lib/small.bin", small);
  WriteFile(src + "/run.sh", "#!/bin/sh\necho hi\n");
  WriteFile(src + "/zero", "");
  fs::permissions(src + "/run.sh", fs::perms::owner_exec, fs::perm_options::add);
  fs::create_symlink("lib/small.bin", src + "/alias");

  const std::string zip = dir.File("proj.zip");
  Status packed = PackFolder(src, zip);
  ASSERT_TRUE(packed.ok()) << packed.message();
  EXPECT_FALSE(fs::exists(zip + ".partial"));

  const std::string dest = dir.File("out/project");
  Status unpacked = Unpack(zip, dest, UnpackLimits{});
  ASSERT_TRUE(unpacked.ok()) << unpacked.message();
  EXPECT_EQ(
      "alias->lib/small.bin empty/ lib/ lib/deep/ lib/deep/er/ lib/deep/er/data.bin lib/small.bin run.sh* "
      "zero",
      Tree(dest));
  EXPECT_EQ(Tree(src), Tree(dest));
  EXPECT_TRUE(ReadFile(dest + "/lib/deep/er/data.bin") == big);
  EXPECT_TRUE(ReadFile(dest + "/lib/small.bin") == small);
  EXPECT_EQ("#!/bin/sh\necho hi\n", ReadFile(dest + "/run.sh"));
}

TEST(Archive, PackRefusesALinkLeadingOutsideAndLeavesNoZip) {
  TempDir dir;
  fs::create_directories(dir.File("src/sub"));
  WriteFile(dir.File("src/ok.txt"), "ok");
  fs::create_symlink("/etc/passwd", dir.File("src/sub/passwd"));
  Status s = PackFolder(dir.File("src"), dir.File("p.zip"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string::npos, s.message().find("sub/passwd")) << s.message();
  EXPECT_NE(std::string::npos, s.message().find("outside the folder")) << s.message();
  fs::remove(dir.File("src/sub/passwd"));
  fs::create_symlink("../../secret", dir.File("src/sub/up"));
  EXPECT_FALSE(PackFolder(dir.File("src"), dir.File("p.zip")).ok());
  EXPECT_FALSE(fs::exists(dir.File("p.zip")));
  EXPECT_FALSE(fs::exists(dir.File("p.zip.partial")));
  EXPECT_FALSE(PackFolder(dir.File("missing"), dir.File("p.zip")).ok());
}

// A retried archive job unpacks its project again into the same job folder (read-only files included).
TEST(Archive, UnpackingAgainIntoTheSameFolderReplacesTheFiles) {
  TempDir dir;
  fs::create_directories(dir.File("src"));
  WriteFile(dir.File("src/main.sh"), "echo v1\n");
  fs::permissions(dir.File("src/main.sh"), fs::perms::owner_read | fs::perms::owner_exec);
  ASSERT_TRUE(PackFolder(dir.File("src"), dir.File("p.zip")).ok());
  ASSERT_TRUE(Unpack(dir.File("p.zip"), dir.File("job"), UnpackLimits{}).ok());
  WriteFile(dir.File("job/scratch.txt"), "left by the first run");
  const Status again = Unpack(dir.File("p.zip"), dir.File("job"), UnpackLimits{});
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_EQ("echo v1\n", ReadFile(dir.File("job/main.sh")));
  EXPECT_TRUE(fs::exists(dir.File("job/scratch.txt")));
}

TEST(Archive, PackIntoTheFolderItselfSkipsTheZip) {
  TempDir dir;
  WriteFile(dir.File("a.txt"), "a");
  ASSERT_TRUE(PackFolder(dir.path(), dir.File("self.zip")).ok());
  ASSERT_TRUE(PackFolder(dir.path(), dir.File("self.zip")).ok());  // the older zip is not packed either
  ASSERT_TRUE(Unpack(dir.File("self.zip"), dir.File("out"), UnpackLimits{}).ok());
  EXPECT_EQ("a.txt", Tree(dir.File("out")));
}

TEST(Archive, ListEntriesGivesTheNamesPackedFoldersWithASlash) {
  TempDir dir;
  fs::create_directories(dir.File("src/lib/empty"));
  WriteFile(dir.File("src/lib/a.py"), "a");
  WriteFile(dir.File("src/main.py"), "m");
  ASSERT_TRUE(PackFolder(dir.File("src"), dir.File("p.zip")).ok());
  Result<std::vector<std::string>> names = ListEntries(dir.File("p.zip"));
  ASSERT_TRUE(names.ok()) << names.message();
  EXPECT_EQ((std::vector<std::string>{"lib/", "lib/a.py", "lib/empty/", "main.py"}), *names);
  WriteFile(dir.File("junk.zip"), "not a zip");
  EXPECT_FALSE(ListEntries(dir.File("junk.zip")).ok());
}

// A folder a worker could not unpack is refused when packing, not when the job starts.
TEST(Archive, PackRefusesAFolderOverTheUnpackLimits) {
  TempDir dir;
  fs::create_directories(dir.File("src/sub"));
  WriteFile(dir.File("src/a.bin"), std::string(600, 'a'));
  WriteFile(dir.File("src/sub/b.bin"), std::string(600, 'b'));
  const std::string root = fs::canonical(dir.File("src")).string();
  Status s = PackFolder(dir.File("src"), dir.File("p.zip"), UnpackLimits{.max_bytes = 1000});
  EXPECT_EQ("cannot pack '" + root +
                "': it holds more than 1000 bytes of files, more than a worker unpacks; move data out of the "
                "folder (into TitanStore or an uploaded artifact) or pack a smaller folder",
            s.message());
  s = PackFolder(dir.File("src"), dir.File("p.zip"), UnpackLimits{.max_entries = 2});
  EXPECT_NE(std::string::npos, s.message().find("more than 2 files and folders")) << s.message();
  EXPECT_FALSE(fs::exists(dir.File("p.zip")));
  EXPECT_FALSE(fs::exists(dir.File("p.zip.partial")));
  EXPECT_TRUE(
      PackFolder(dir.File("src"), dir.File("p.zip"), UnpackLimits{.max_bytes = 1200, .max_entries = 3}).ok());
}

TEST(Archive, ZipSlipEntriesAreRefusedAndNothingIsWrittenOutside) {
  TempDir dir;
  const std::string absolute = dir.File("evil-absolute");
  struct Case {
    std::vector<ZipEntry> entries;
    std::string offender;
  };
  const Case cases[] = {
      {{{"good.txt", "fine"}, {"../evil.txt", "pwned"}}, "entry '../evil.txt' would be written outside"},
      {{{"good.txt", "fine"}, {"a/../../evil.txt", "pwned"}},
       "entry 'a/../../evil.txt' would be written outside"},
      {{{"good.txt", "fine"}, {absolute, "pwned"}}, "entry '" + absolute + "' would be written outside"},
      {{{"good.txt", "fine"}, {"/tmp/evil", "pwned"}}, "entry '/tmp/evil' would be written outside"},
      {{{"link", "", AE_IFLNK, "../.."}, {"good.txt", "fine"}}, "entry 'link' is a link leading outside"},
      {{{"link", "", AE_IFLNK, "/etc"}}, "entry 'link' is a link leading outside"},
  };
  for (const Case& c : cases) {
    const std::string zip = dir.File("slip.zip");
    WriteZip(zip, c.entries);
    fs::create_directories(dir.File("work/dest"));
    Status s = Unpack(zip, dir.File("work/dest"), UnpackLimits{});
    ASSERT_FALSE(s.ok()) << c.offender;
    EXPECT_EQ("archive '" + zip + "' " + c.offender + " the project folder; refusing it", s.message());
    EXPECT_EQ("dest/", Tree(dir.File("work")));  // not even good.txt
    EXPECT_FALSE(fs::exists(dir.File("evil.txt")));
    EXPECT_FALSE(fs::exists(absolute));
  }
}

TEST(Archive, LinkChainsAndWritesThroughLinksAreRefused) {
  TempDir dir;
  // Each link stays inside on paper ("b/c" -> "../p" is "p"; "a" -> "b/c/../.." is "."), but "b/c/.."
  // really is the project folder itself, so "a" leads to the folder above it.
  const std::string chain = dir.File("chain.zip");
  WriteZip(chain, {{"b", "", AE_IFDIR},
                   {"p", "", AE_IFDIR},
                   {"b/c", "", AE_IFLNK, "../p"},
                   {"a", "", AE_IFLNK, "b/c/../.."}});
  Status s = Unpack(chain, dir.File("dest"), UnpackLimits{});
  EXPECT_EQ("archive '" + chain + "' entry 'a' is a link leading outside the project folder; refusing it",
            s.message());
  EXPECT_FALSE(fs::exists(dir.File("dest")));  // created by Unpack, removed again

  // A file written through an extracted link: libarchive's ARCHIVE_EXTRACT_SECURE_SYMLINKS stops it.
  const std::string through = dir.File("through.zip");
  WriteZip(through, {{"d", "", AE_IFLNK, "."}, {"d/file.txt", "x"}});
  s = Unpack(through, dir.File("dest"), UnpackLimits{});
  EXPECT_EQ(0u, s.message().find("archive '" + through + "' entry 'd/file.txt' cannot be unpacked"))
      << s.message();
  EXPECT_FALSE(fs::exists(dir.File("dest")));
}

TEST(Archive, BombOverMaxBytesIsRefusedAndCleanedUp) {
  TempDir dir;
  const std::string zip = dir.File("bomb.zip");
  WriteZip(zip, {{"a.bin", std::string(600000, '\0')}, {"b.bin", std::string(600000, '\0')}});
  EXPECT_LT(fs::file_size(zip), 10000u);  // compresses well: the size comes from unpacking
  fs::create_directories(dir.File("dest"));
  WriteFile(dir.File("dest/kept.txt"), "mine");
  Status s = Unpack(zip, dir.File("dest"), UnpackLimits{.max_bytes = 1000000});
  EXPECT_EQ("archive '" + zip +
                "' unpacks to more than 1000000 bytes, the unpack limit; refusing it: pack less "
                "data or raise the limit",
            s.message());
  EXPECT_EQ("kept.txt", Tree(dir.File("dest")));  // what was there stays, what was written goes
  EXPECT_TRUE(Unpack(zip, dir.File("dest"), UnpackLimits{.max_bytes = 1200000}).ok());
}

TEST(Archive, TooManyEntriesAreRefused) {
  TempDir dir;
  std::vector<ZipEntry> entries;
  for (int i = 0; i < 11; ++i) entries.push_back({"f" + std::to_string(i), "x"});
  WriteZip(dir.File("many.zip"), entries);
  Status s = Unpack(dir.File("many.zip"), dir.File("dest"), UnpackLimits{.max_entries = 10});
  EXPECT_EQ("archive '" + dir.File("many.zip") +
                "' has more than 10 entries, the unpack limit; refusing it: pack "
                "fewer files",
            s.message());
  EXPECT_FALSE(fs::exists(dir.File("dest")));
  EXPECT_TRUE(Unpack(dir.File("many.zip"), dir.File("dest"), UnpackLimits{.max_entries = 11}).ok());
}

TEST(Archive, NotAZipIsRefusedNamingIt) {
  TempDir dir;
  WriteFile(dir.File("junk.zip"), "this is not a zip file at all");
  Status s = Unpack(dir.File("junk.zip"), dir.File("dest"), UnpackLimits{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(0u, s.message().find("archive '" + dir.File("junk.zip") + "'")) << s.message();
  EXPECT_FALSE(Unpack(dir.File("none.zip"), dir.File("dest"), UnpackLimits{}).ok());
}

}  // namespace
}  // namespace titan::artifacts
