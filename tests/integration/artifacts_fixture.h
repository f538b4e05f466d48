// ArtifactsTest: a cluster (ClusterTest) plus running the `titan` CLI as a user would, files of
// random bytes, and the ARTIFACT_* dialog driven directly. Shared by the artifact tests.
#pragma once

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

namespace fs = std::filesystem;
using wire::Message;

// ---- running the CLI ----

struct CliResult {
  int exit_code = -1;  // -1: killed (by a signal, or at the deadline)
  std::string out, err;
};

inline std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// Runs `titan ARGS...` to the end with stdout and stderr captured (pipes, so not a terminal). A run
// still going at `deadline` is killed.
inline CliResult RunTitan(std::vector<std::string> args, Deadline deadline) {
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

inline std::string Render(const CliResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// ---- files ----

// `bytes` pseudo-random bytes (xorshift64*), written 1 MiB at a time.
inline void WriteRandomFile(const std::string& path, int64_t bytes, uint64_t seed) {
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

inline std::string HashOf(const std::string& path) {
  auto h = artifacts::HashFile(path);
  return h.ok() ? h.value() : "error: " + h.message();
}

inline void WriteFile(const std::string& path, const std::string& content, mode_t mode = 0644) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << content;
  chmod(path.c_str(), mode);
}

// A TCP port nothing listens on (bound, read back, released).
inline int UnusedPort() {
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

}  // namespace titan::cluster_test
