// Starting and stopping the test PostgreSQL server with its own binaries, as base/pg_test_server.h says.
#include "base/pg_test_server.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

extern char** environ;

namespace titan::testing {
namespace {

namespace fs = std::filesystem;

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// Runs `command` (a shell line), its output into `log`; whether it exited 0.
bool Run(const std::string& command, const std::string& log) {
  return std::system((command + " >>" + log + " 2>&1").c_str()) == 0;
}

// `sh -c kWatchdog sh DIR COMMAND...`: waits for a line on stdin; anything but "done" (EOF: the process that
// started the server ended) runs COMMAND (pg_ctl stop -m immediate) and removes DIR. As pg_server.py's.
constexpr const char* kWatchdog =
    "dir=$1; shift; read -r line; [ \"$line\" = done ] && exit 0; \"$@\" >/dev/null 2>&1; rm -rf \"$dir\"";
constexpr const char* kOwnerFile = "owner.pid";

// Whether process `pid` runs (a zombie does not).
bool Runs(int pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t close = all.rfind(')');
  return close == std::string::npos || all.compare(close + 1, 3, " Z ") != 0;
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  const std::string s = all.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

}  // namespace

std::string PostgresServer::BinDir() {
  std::string best;
  std::error_code ec;
  for (const auto& version : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path bin = version.path() / "bin";
    if (fs::exists(bin / "initdb") && fs::exists(bin / "pg_ctl") &&
        (best.empty() || std::atoi(version.path().filename().c_str()) >
                             std::atoi(fs::path(best).parent_path().filename().c_str())))
      best = bin.string();
  }
  if (!best.empty()) return best;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (fs::exists(fs::path(dir) / "initdb") && fs::exists(fs::path(dir) / "pg_ctl")) return dir;
  }
  return "";
}

PostgresServer* PostgresServer::Shared(std::string* why) {
  static std::unique_ptr<PostgresServer> shared;
  static std::string failure;
  if (shared) return shared.get();
  if (!failure.empty()) {
    *why = failure;
    return nullptr;
  }
  ReapOrphans();
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->bin_ = BinDir();
  if (server->bin_.empty()) {
    *why = failure =
        "PostgreSQL is not installed (no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on PATH): "
        "apt-get install postgresql (cli/install.sh with TITAN_TEST_TOOLS=1)";
    return nullptr;
  }
  std::string tmpl = (fs::temp_directory_path() / "titan-pg-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    *why = failure = "cannot make a temp directory for PostgreSQL";
    return nullptr;
  }
  server->dir_ = tmpl;
  const std::string log = server->dir_ + "/setup.log";
  if (geteuid() == 0) {  // PostgreSQL refuses root: the postgres user runs it, in a directory it owns
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr || chown(server->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      *why = failure = "running as root, PostgreSQL needs the `postgres` user (Debian's postgresql package)";
      return nullptr;
    }
    server->runner_ = "runuser -u postgres -- ";
  }
  server->port_ = FreeLoopbackPort();
  const std::string data = server->dir_ + "/data";
  std::ofstream(server->dir_ + "/" + kOwnerFile) << getpid() << '\n';
  const std::string options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(server->port_) + " -k " +
                              server->dir_ + " -c fsync=off -c max_connections=200";
  if (!Run(server->runner_ + server->bin_ + "/initdb -D " + data + " -U titan --auth=trust -E UTF8 --no-sync",
           log) ||
      !server->Watch() ||
      !Run(server->runner_ + server->bin_ + "/pg_ctl -D " + data + " -l " + server->dir_ +
               "/server.log -w -o '" + options + "' start",
           log)) {
    *why = failure =
        "cannot start PostgreSQL in " + server->dir_ + ":\n" + Tail(log) + Tail(server->dir_ + "/server.log");
    return nullptr;
  }
  server->running_ = true;
  shared = std::move(server);
  return shared.get();
}

bool PostgresServer::Watch() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  std::vector<std::string> args = {"sh", "-c", kWatchdog, "sh", dir_};
  if (!runner_.empty()) args.insert(args.end(), {"runuser", "-u", "postgres", "--"});
  args.insert(args.end(), {bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "stop"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);  // dup2 clears close-on-exec
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);  // a signal to this process's group spares it
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "sh", &actions, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[0]);
  if (rc != 0) {
    close(fds[1]);
    return false;
  }
  watchdog_fd_ = fds[1];
  watchdog_pid_ = pid;
  return true;
}

int PostgresServer::ReapOrphans() {
  int reaped = 0;
  std::error_code ec;
  const std::string bin = BinDir();
  const std::string runner = geteuid() == 0 ? "runuser -u postgres -- " : "";
  for (const auto& entry : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    const fs::path dir = entry.path();
    if (dir.filename().string().rfind("titan-pg-", 0) != 0 || !fs::exists(dir / kOwnerFile, ec)) continue;
    int owner = 0;
    std::ifstream(dir / kOwnerFile) >> owner;
    if (owner <= 0 || Runs(owner)) continue;
    if (!bin.empty() && fs::exists(dir / "data" / "postmaster.pid", ec))
      Run(runner + bin + "/pg_ctl -D " + (dir / "data").string() + " -m immediate stop", "/dev/null");
    fs::remove_all(dir, ec);
    ++reaped;
  }
  return reaped;
}

PostgresServer::~PostgresServer() {
  // With a watchdog, the server may run even when starting it failed (pg_ctl gave up waiting): stop it too.
  if (running_ || watchdog_fd_ >= 0)
    Run(runner_ + bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate stop", "/dev/null");
  if (watchdog_fd_ >= 0) {  // stopped: the watchdog may go
    (void)!write(watchdog_fd_, "done\n", 5);
    close(watchdog_fd_);
    waitpid(watchdog_pid_, nullptr, 0);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PostgresServer::NewDatabase() {
  const std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(++databases_);
  const std::string base = "postgresql://titan@127.0.0.1:" + std::to_string(port_) + "/";
  PGconn* conn = PQconnectdb((base + "postgres").c_str());
  PGresult* r = PQexec(conn, ("CREATE DATABASE " + name).c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  PQfinish(conn);
  return ok ? base + name : "";
}

}  // namespace titan::testing
