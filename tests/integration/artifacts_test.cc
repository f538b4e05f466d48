// Artifacts end to end: the `titan upload` / `titan artifacts [get|rm]` / `titan deploy-script` CLI
// against a real broker (100 MB round trip, listing, removal, folders run as archive jobs, refused
// names, unknown names, an upload killed mid-transfer), and the ARTIFACT_* dialog driven directly
// (chunks at a wrong offset or with a wrong crc32, abort).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

#include "artifacts/sha256.h"
#include "tests/integration/cluster_fixture.h"

extern char** environ;

namespace titan::cluster_test {
namespace {

namespace fs = std::filesystem;
using wire::Message;

// ---- running the CLI ----

struct CliResult {
  int exit_code = -1;  // -1: killed (by a signal, or at the deadline)
  std::string out, err;
};

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// Runs `titan ARGS...` to the end with stdout and stderr captured (pipes, so not a terminal). A run
// still going at `deadline` is killed.
CliResult RunTitan(std::vector<std::string> args, Deadline deadline) {
  CliResult r;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return r;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  args.insert(args.begin(), testing::TitanBinary());
  std::vector<char*> argv = Argv(args);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = spawned == 0 ? 2 : 0;
  while (open_fds > 0 && testing::MillisLeft(deadline) > 0) {
    if (poll(fds, 2, static_cast<int>(testing::MillisLeft(deadline))) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  close(out[0]);
  close(err[0]);
  if (spawned != 0) return r;
  if (open_fds > 0) kill(pid, SIGKILL);  // the deadline passed
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string Render(const CliResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// ---- files ----

// `bytes` pseudo-random bytes (xorshift64*), written 1 MiB at a time.
void WriteRandomFile(const std::string& path, int64_t bytes, uint64_t seed) {
  std::ofstream f(path, std::ios::binary);
  std::string buf(1 << 20, '\0');
  for (int64_t done = 0; done < bytes;) {
    for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
      seed ^= seed >> 12;
      seed ^= seed << 25;
      seed ^= seed >> 27;
      const uint64_t v = seed * 0x2545f4914f6cdd1dULL;
      std::memcpy(&buf[i], &v, 8);
    }
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(buf.size()), bytes - done);
    f.write(buf.data(), n);
    done += n;
  }
}

std::string HashOf(const std::string& path) {
  auto h = artifacts::HashFile(path);
  return h.ok() ? h.value() : "error: " + h.message();
}

void WriteFile(const std::string& path, const std::string& content, mode_t mode = 0644) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << content;
  chmod(path.c_str(), mode);
}

// A TCP port nothing listens on (bound, read back, released).
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class ArtifactsTest : public ClusterTest {
 protected:
  // `titan --port <broker> ARGS...`, run to the end.
  CliResult Titan(std::vector<std::string> args) {
    args.insert(args.begin(), {"--port", std::to_string(c_.broker_port())});
    return RunTitan(std::move(args), In(kDeadline));
  }

  // The reply to `request` rendered as "TYPE" or "ERROR CODE".
  std::string Ask(const Message& request, Message* reply = nullptr) {
    Message r;
    if (!c_.Call(request, &r)) return "no reply: " + c_.error();
    if (reply) *reply = r;
    if (r.type == MsgType::kError) return "ERROR " + std::string(r.Bytes("code"));
    return std::string(wire::NameOf(r.type));
  }

  std::string Stat(const std::string& space, const std::string& name) {
    return Ask(wire::MakeMessage(MsgType::kArtifactStat)
                   .Set("space", Datum(Text{space}))
                   .Set("name", Datum(Text{name})));
  }

  // Names listed by ARTIFACT_LIST, "space/name" each.
  std::vector<std::string> Listed() {
    Message r;
    std::vector<std::string> out;
    if (Ask(wire::MakeMessage(MsgType::kArtifactList), &r) != "ARTIFACT_LIST_REPLY") return {"list failed"};
    for (const Datum& d : std::get<wire::List>(r.Find("artifacts")->v)) {
      const auto& m = std::get<wire::Map>(d.v);
      out.push_back(wire::FieldStr(m, "space") + "/" + wire::FieldStr(m, "name"));
    }
    return out;
  }

  Message Put(const std::string& name, int64_t size, const std::string& sha256) {
    return wire::MakeMessage(MsgType::kArtifactPut)
        .Set("space", Datum(Text{"uploads"}))
        .Set("name", Datum(Text{name}))
        .Set("size", Datum(size))
        .Set("sha256", Datum(Text{sha256}));
  }

  static Message Chunk(const std::string& upload, int64_t offset, std::string bytes, int64_t crc) {
    Message m = wire::MakeMessage(MsgType::kArtifactChunk);
    m.Set("upload", Datum(Text{upload})).Set("offset", Datum(offset)).Set("crc32", Datum(crc));
    m.blobs.push_back(std::move(bytes));
    return m;
  }

  std::string Logs(const std::string& id) {
    Message r;
    if (!c_.Call(wire::MakeMessage(MsgType::kJobLogs)
                     .Set("id", Datum(Text{id}))
                     .Set("offset", Datum(int64_t{0}))
                     .Set("max_bytes", Datum(int64_t{1} << 20)),
                 &r) ||
        r.blobs.empty()) {
      return "";
    }
    return r.blobs[0];
  }

  std::string ArtifactDir(const std::string& rest) const { return c_.Path("broker/artifacts/" + rest); }
};

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

// ---- the dialog, driven directly ----

TEST_F(ArtifactsTest, AChunkAtAWrongOffsetOrWithAWrongCrcIsInvalidAndChangesNothing) {
  const std::string content = "0123456789";
  Message opened;
  ASSERT_EQ("ARTIFACT_UPLOAD", Ask(Put("chunks.bin", 10, artifacts::Sha256Hex(content)), &opened));
  const std::string upload(opened.Bytes("upload"));
  EXPECT_GT(opened.Int("credit"), 0);
  EXPECT_EQ(int64_t{wire::kMaxChunkBytes}, opened.Int("chunk_bytes"));
  const int64_t crc = artifacts::Crc32(content);

  EXPECT_EQ("ERROR INVALID", Ask(Chunk(upload, 5, content, crc)));      // not where the upload stands
  EXPECT_EQ("ERROR INVALID", Ask(Chunk(upload, 0, content, crc ^ 1)));  // corrupted in transit
  EXPECT_EQ("ERROR NOT_FOUND", Ask(Chunk("no-such-upload", 0, content, crc)));
  EXPECT_EQ("ERROR NOT_FOUND", Stat("uploads", "chunks.bin"));  // nothing visible before COMMIT

  // The upload is still usable from where it stood.
  Message ack;
  ASSERT_EQ("ARTIFACT_CHUNK_ACK",
            Ask(Chunk(upload, 0, content.substr(0, 4), artifacts::Crc32(content.substr(0, 4))), &ack));
  EXPECT_EQ(4, ack.Int("received"));
  EXPECT_EQ("ERROR INVALID", Ask(Chunk(upload, 0, content.substr(4), artifacts::Crc32(content.substr(4)))));
  ASSERT_EQ("ARTIFACT_CHUNK_ACK",
            Ask(Chunk(upload, 4, content.substr(4), artifacts::Crc32(content.substr(4))), &ack));
  EXPECT_EQ(10, ack.Int("received"));
  Message info;
  ASSERT_EQ("ARTIFACT_INFO",
            Ask(wire::MakeMessage(MsgType::kArtifactCommit).Set("upload", Datum(Text{upload})), &info));
  EXPECT_EQ(content, testing::ReadFile(ArtifactDir("uploads/chunks.bin")));
}

TEST_F(ArtifactsTest, ACommitWhoseBytesDoNotMatchTheHashIsRefused) {
  Message opened;
  ASSERT_EQ("ARTIFACT_UPLOAD", Ask(Put("lie.bin", 3, artifacts::Sha256Hex("abc")), &opened));
  const std::string upload(opened.Bytes("upload"));
  ASSERT_EQ("ARTIFACT_CHUNK_ACK", Ask(Chunk(upload, 0, "xyz", artifacts::Crc32("xyz"))));
  EXPECT_EQ("ERROR INVALID",
            Ask(wire::MakeMessage(MsgType::kArtifactCommit).Set("upload", Datum(Text{upload}))));
  EXPECT_EQ("ERROR NOT_FOUND", Stat("uploads", "lie.bin"));
  EXPECT_TRUE(fs::is_empty(ArtifactDir("partial")));
}

TEST_F(ArtifactsTest, AnAbortedUploadLeavesNoArtifactAndNoPartialFile) {
  Message opened;
  ASSERT_EQ("ARTIFACT_UPLOAD", Ask(Put("gone.bin", 8, artifacts::Sha256Hex("abcdefgh")), &opened));
  const std::string upload(opened.Bytes("upload"));
  ASSERT_EQ("ARTIFACT_CHUNK_ACK", Ask(Chunk(upload, 0, "abcd", artifacts::Crc32("abcd"))));
  EXPECT_FALSE(fs::is_empty(ArtifactDir("partial")));
  EXPECT_EQ("OK", Ask(wire::MakeMessage(MsgType::kArtifactAbort).Set("upload", Datum(Text{upload}))));
  EXPECT_TRUE(fs::is_empty(ArtifactDir("partial")));
  EXPECT_EQ("ERROR NOT_FOUND", Ask(Chunk(upload, 4, "efgh", artifacts::Crc32("efgh"))));
  EXPECT_EQ("ERROR NOT_FOUND", Stat("uploads", "gone.bin"));
  EXPECT_TRUE(Listed().empty());
}

}  // namespace
}  // namespace titan::cluster_test
