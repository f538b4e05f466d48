// A PostgreSQL server of a test's own: `initdb` + `pg_ctl` in a fresh directory under the temp dir, on a
// free loopback port (its socket in that directory too), stopped and removed when the process ends, also
// when it is killed: a watchdog (a shell in a session of its own, reading a pipe only this process writes)
// stops the server (`pg_ctl stop -m immediate`) and removes the directory once the pipe ends without "done".
// The directory's owner.pid names this process; servers whose owner and watchdog are both gone are reaped by
// the next Shared() (and by tests/python/pg_server.py's reap_orphans).
// PostgreSQL refuses to run as root: as root (CI), the server runs as the `postgres` system user, which
// owns the directory; otherwise as the current user. The binaries are Debian's (/usr/lib/postgresql/N/bin,
// the newest N) or those on PATH. For tests only.
#pragma once

#include <memory>
#include <string>

namespace titan::testing {

class PostgresServer {
 public:
  // The folder holding initdb and pg_ctl; empty when PostgreSQL is not installed.
  static std::string BinDir();
  // The server every test of this process shares, started on first use (fsync off: tests of the broker,
  // not of the disk). Null when it cannot start: `*why` says why (the binaries are absent, or initdb or
  // pg_ctl failed: their output).
  static PostgresServer* Shared(std::string* why);

  ~PostgresServer();
  // A new empty database owned by the superuser `titan`; its URI (postgresql://titan@127.0.0.1:PORT/db).
  // Empty when CREATE DATABASE failed.
  std::string NewDatabase();
  int port() const { return port_; }
  // The watchdog's pid (for tests of it).
  int watchdog_pid() const { return watchdog_pid_; }
  std::string dir() const { return dir_; }

  // Stops the servers of test processes that ended without stopping them and whose watchdog is gone too
  // (a directory titan-pg-* under the temp dir with an owner.pid naming no running process), and removes
  // their directories. Returns how many.
  static int ReapOrphans();

 private:
  PostgresServer() = default;
  // Starts the watchdog of the server in dir_ (before the server: it never runs unwatched). False on failure.
  bool Watch();

  std::string dir_, bin_, runner_;  // runner_: "runuser -u postgres -- " as root
  int port_ = 0;
  int watchdog_fd_ = -1;  // the pipe's write end (close-on-exec: no child of this process holds it)
  int watchdog_pid_ = -1;
  int databases_ = 0;
  bool running_ = false;
};

}  // namespace titan::testing
