// Artifacts end to end through the CLI: `titan upload` / `titan artifacts [get|rm]` / `titan
// deploy-script` against a real broker (100 MB round trip, listing, removal, folders run as archive
// jobs, refused names, unknown names, an upload killed mid-transfer). The ARTIFACT_* dialog driven
// directly is in artifacts_dialog_test.cc.
#include "tests/integration/artifacts_fixture.h"

namespace titan::cluster_test {
namespace {

// ---- through the CLI ----

TEST_F(ArtifactsTest, UploadThenGetOf100MBGivesTheSameBytesAndRmRemovesIt) {
  constexpr int64_t kSize = 100'000'000;
  const std::string src = c_.Path("random.bin");
  WriteRandomFile(src, kSize, 42);
  const std::string sha = HashOf(src);

  // Piped, without --quiet: no progress on stderr, one summary line on stdout.
  CliResult up = Titan({"upload", src});
  ASSERT_EQ(0, up.exit_code) << Render(up);
  EXPECT_EQ("", up.err);
  EXPECT_EQ(
      0u, up.out.rfind("uploaded uploads/random.bin: 95.4 MiB, sha256 " + sha.substr(0, 12) + "\u2026, ", 0))
      << up.out;
  EXPECT_NE(std::string::npos, up.out.find(" MB/s\n")) << up.out;

  CliResult ls = Titan({"artifacts"});
  ASSERT_EQ(0, ls.exit_code) << Render(ls);
  EXPECT_TRUE(std::regex_search(
      ls.out, std::regex("\nuploads +random\\.bin +95\\.4 MiB +" + sha.substr(0, 12) + " ")))
      << ls.out;
  CliResult json = Titan({"artifacts", "--json", "--space", "uploads"});
  ASSERT_EQ(0, json.exit_code) << Render(json);
  EXPECT_NE(std::string::npos,
            json.out.find("\"name\":\"random.bin\",\"sha256\":\"" + sha + "\",\"size\":100000000"))
      << json.out;

  fs::create_directories(c_.Path("out"));
  CliResult get = Titan({"artifacts", "get", "random.bin", "-o", c_.Path("out")});
  ASSERT_EQ(0, get.exit_code) << Render(get);
  EXPECT_EQ("", get.err);
  EXPECT_EQ(0u,
            get.out.rfind("downloaded uploads/random.bin to " + c_.Path("out/random.bin") + ": 95.4 MiB", 0))
      << get.out;
  EXPECT_EQ(sha, HashOf(c_.Path("out/random.bin")));
  EXPECT_FALSE(fs::exists(c_.Path("out/random.bin.partial")));

  CliResult rm = Titan({"artifacts", "rm", "random.bin"});
  ASSERT_EQ(0, rm.exit_code) << Render(rm);
  EXPECT_EQ("removed uploads/random.bin\n", rm.out);
  EXPECT_EQ("ERROR NOT_FOUND", Stat("uploads", "random.bin"));
  CliResult after = Titan({"artifacts"});
  EXPECT_EQ(std::string::npos, after.out.find("random.bin")) << after.out;
}

TEST_F(ArtifactsTest, GetOfAnUnknownNameExitsNotFoundAndWritesNothing) {
  CliResult r = Titan({"artifacts", "get", "nope.bin", "-o", c_.Path("nope.bin")});
  EXPECT_EQ(1, r.exit_code) << Render(r);
  EXPECT_NE(std::string::npos, r.err.find("no artifact 'nope.bin' in uploads or perm_files")) << r.err;
  EXPECT_NE(std::string::npos, r.err.find("titan artifacts")) << r.err;
  EXPECT_FALSE(fs::exists(c_.Path("nope.bin")));
  EXPECT_FALSE(fs::exists(c_.Path("nope.bin.partial")));

  CliResult rm = Titan({"artifacts", "rm", "nope.bin", "--space", "perm_files"});
  EXPECT_EQ(1, rm.exit_code) << Render(rm);
  EXPECT_NE(std::string::npos, rm.err.find("no artifact 'nope.bin' in perm_files")) << rm.err;
}

TEST_F(ArtifactsTest, TraversalNamesAreRefusedByTheCliAndByTheBroker) {
  WriteFile(c_.Path("f.txt"), "hello\n");
  for (const std::string name : {"../evil.txt", "/etc/evil.txt", "a/../../evil.txt"}) {
    CliResult up = Titan({"upload", c_.Path("f.txt"), "--name", name});
    EXPECT_EQ(2, up.exit_code) << name << ": " << Render(up);
    EXPECT_NE(std::string::npos, up.err.find(name)) << up.err;  // the message quotes the name
    CliResult get = Titan({"artifacts", "get", name, "-o", c_.Path("x")});
    EXPECT_EQ(2, get.exit_code) << name << ": " << Render(get);
    // The broker refuses it too, whatever the client checked.
    EXPECT_EQ("ERROR INVALID", Ask(Put(name, 6, artifacts::Sha256Hex("hello\n")))) << name;
    EXPECT_EQ("ERROR INVALID", Stat("uploads", name)) << name;
  }
  EXPECT_FALSE(fs::exists(c_.Path("broker/artifacts/evil.txt")));
  EXPECT_FALSE(fs::exists(c_.Path("broker/evil.txt")));
  EXPECT_TRUE(Listed().empty());
}

TEST_F(ArtifactsTest, NoBrokerMeansExit4NamingTheAddress) {
  const int port = UnusedPort();
  CliResult r = RunTitan({"--port", std::to_string(port), "--timeout", "300", "artifacts"}, In(kDeadline));
  EXPECT_EQ(4, r.exit_code) << Render(r);
  EXPECT_NE(std::string::npos, r.err.find("tcp://127.0.0.1:" + std::to_string(port) + " within 300 ms"))
      << r.err;
}

TEST_F(ArtifactsTest, ASecondJobWithTheSameScriptRunsFromTheWorkersCache) {
  AddWorker("w1", 2);
  const std::string script = "#!/bin/bash\necho cached run $TITAN_JOB_ID\n";
  const std::string sha = artifacts::Sha256Hex(script);
  const std::string cached = c_.Path("w1/cache/blobs/" + sha.substr(0, 2) + "/" + sha);
  ASSERT_EQ("", c_.Submit({Job("c1", "same.sh")}, {{"same.sh", script}}).error_code);
  ASSERT_EQ("COMPLETED", c_.WaitFinal("c1", In(kDeadline)).state);
  struct stat first {};
  ASSERT_EQ(0, stat(cached.c_str(), &first)) << "the worker keeps the job's file in its cache by hash";

  ASSERT_EQ("", c_.Submit({Job("c2", "same.sh")}, {{"same.sh", script}}).error_code);
  ASSERT_EQ("COMPLETED", c_.WaitFinal("c2", In(kDeadline)).state);
  EXPECT_NE(Logs("c2").find("cached run c2"), std::string::npos) << Logs("c2");
  struct stat second {};
  ASSERT_EQ(0, stat(cached.c_str(), &second));
  EXPECT_EQ(first.st_ino, second.st_ino) << "a fetch would have written a new file";
  EXPECT_EQ(3u, second.st_nlink) << "the cache entry and both jobs' script copies are one file";
  const std::string log = testing::ReadFile(c_.Path("w1.log"));
  size_t fetches = 0;
  for (size_t at = 0; (at = log.find("fetched file sha256 " + sha, at)) != std::string::npos; ++at) ++fetches;
  EXPECT_EQ(1u, fetches) << "fetched once, then served from the cache";
}

TEST_F(ArtifactsTest, AFolderUploadRunsAsAnArchiveJobAndADeployedScriptByName) {
  AddWorker("w1", 2);
  WriteFile(c_.Path("proj/main.sh"),
            "#!/bin/bash\ncat \"$(dirname \"$0\")/data/msg.txt\"\necho \"args: $*\"\n", 0755);
  WriteFile(c_.Path("proj/data/msg.txt"), "hello from the archive\n");
  CliResult up = Titan({"upload", c_.Path("proj") + "/"});
  ASSERT_EQ(0, up.exit_code) << Render(up);
  EXPECT_EQ(0u, up.out.rfind("uploaded perm_files/proj.zip (folder " + c_.Path("proj") + "/): ", 0))
      << up.out;
  EXPECT_EQ("ARTIFACT_INFO", Stat("perm_files", "proj.zip"));

  WriteFile(c_.Path("hello.sh"), "#!/bin/bash\necho deployed hello\n", 0755);
  CliResult dep = Titan({"deploy-script", c_.Path("hello.sh")});
  ASSERT_EQ(0, dep.exit_code) << Render(dep);
  EXPECT_EQ(0u, dep.out.rfind("uploaded perm_files/hello.sh: 32 B, sha256 ", 0)) << dep.out;

  // Neither job sends its file: the broker finds them in perm_files.
  wire::List jobs;
  jobs.push_back(Datum(wire::Map{{"id", Datum(Text{"arch"})},
                                 {"file", Datum(Text{"proj.zip/main.sh"})},
                                 {"args", Datum(Text{"one two"})},
                                 {"archive", Datum(true)}}));
  jobs.push_back(Datum(wire::Map{{"id", Datum(Text{"dep"})}, {"file", Datum(Text{"hello.sh"})}}));
  ASSERT_EQ("JOB_ACCEPTED", Ask(wire::MakeMessage(MsgType::kJobSubmit)
                                    .Set("jobs", Datum(std::move(jobs)))
                                    .Set("files", Datum(wire::List{}))));
  ExpectAllCompleted({"arch", "dep"});
  EXPECT_EQ("hello from the archive\nargs: one two\n", Logs("arch"));
  EXPECT_EQ("deployed hello\n", Logs("dep"));
}

// `titan upload PATH` with stderr on a pseudo-terminal, so it draws its progress line there.
class TerminalUpload {
 public:
  TerminalUpload(int broker_port, const std::string& path) {
    master_ = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master_ < 0 || grantpt(master_) != 0 || unlockpt(master_) != 0) return;
    const std::string slave = ptsname(master_);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, slave.c_str(), O_RDWR | O_NOCTTY, 0);
    std::vector<std::string> args = {testing::TitanBinary(), "--port", std::to_string(broker_port), "upload",
                                     path};
    std::vector<char*> argv = Argv(args);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~TerminalUpload() {
    if (pid_ > 0) Signal(SIGKILL);
    if (master_ >= 0) close(master_);
  }

  // Reads the terminal until `pattern` shows up in it; false at the deadline or when the CLI exits.
  bool WaitFor(const std::regex& pattern, Deadline deadline) {
    while (!std::regex_search(seen_, pattern)) {
      if (!ReadSome(deadline)) return false;
    }
    return true;
  }

  // Sends `sig`, reaps the CLI and reads what it printed until then; returns its wait status.
  int Signal(int sig) {
    kill(pid_, sig);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    while (ReadSome(In(1s))) {
    }
    return status;
  }

  const std::string& seen() const { return seen_; }

 private:
  bool ReadSome(Deadline deadline) {
    pollfd p{master_, POLLIN, 0};
    if (master_ < 0 || poll(&p, 1, static_cast<int>(testing::MillisLeft(deadline))) <= 0) return false;
    char buf[4096];
    const ssize_t n = read(master_, buf, sizeof buf);
    if (n <= 0) return false;  // EIO: no process has the terminal open any more
    seen_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int master_ = -1;
  pid_t pid_ = -1;
  std::string seen_;
};

// A progress line with acknowledged bytes: "uploading uploads/big.bin  12.0 MiB / 1.0 GiB ..."
const std::regex kAcked("uploading uploads/big\\.bin  ([1-9][0-9.]* [KMG]iB|[1-9][0-9]* B) / 1\\.0 GiB");

// A sparse 1 GiB file: nothing to write here, but every byte is hashed and sent.
void MakeSparseGiB(const std::string& path) {
  std::ofstream(path, std::ios::binary).flush();
  ASSERT_EQ(0, truncate(path.c_str(), int64_t{1} << 30));
}

TEST_F(ArtifactsTest, AnUploadKilledMidTransferLeavesNoArtifact) {
  MakeSparseGiB(c_.Path("big.bin"));
  TerminalUpload up(c_.broker_port(), c_.Path("big.bin"));
  ASSERT_TRUE(up.WaitFor(kAcked, In(kDeadline)))
      << "no progress with acknowledged bytes; the terminal showed: " << up.seen();
  const int status = up.Signal(SIGKILL);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_NE(std::string::npos, up.seen().find("hashing uploads/big.bin")) << up.seen();
  EXPECT_NE(std::string::npos, up.seen().find(" MB/s")) << up.seen();

  EXPECT_EQ("ERROR NOT_FOUND", Stat("uploads", "big.bin"));
  EXPECT_TRUE(Listed().empty());
  EXPECT_FALSE(fs::exists(ArtifactDir("uploads/big.bin")));
  // The broker still takes uploads.
  WriteFile(c_.Path("small.txt"), "small\n");
  CliResult small = Titan({"upload", c_.Path("small.txt"), "-q"});
  EXPECT_EQ(0, small.exit_code) << Render(small);
  EXPECT_EQ(std::vector<std::string>{"uploads/small.txt"}, Listed());
}

TEST_F(ArtifactsTest, CtrlCMidUploadAbortsItAndTheBrokerDropsThePartialFile) {
  MakeSparseGiB(c_.Path("big.bin"));
  TerminalUpload up(c_.broker_port(), c_.Path("big.bin"));
  ASSERT_TRUE(up.WaitFor(kAcked, In(kDeadline))) << up.seen();
  const int status = up.Signal(SIGINT);
  ASSERT_TRUE(WIFEXITED(status)) << up.seen();
  EXPECT_EQ(130, WEXITSTATUS(status));
  EXPECT_NE(std::string::npos, up.seen().find("titan: interrupted while uploading (")) << up.seen();
  // The CLI waited for the broker's OK to its ARTIFACT_ABORT before exiting.
  EXPECT_TRUE(fs::is_empty(ArtifactDir("partial")));
  EXPECT_EQ("ERROR NOT_FOUND", Stat("uploads", "big.bin"));
  EXPECT_TRUE(Listed().empty());
}

}  // namespace
}  // namespace titan::cluster_test
