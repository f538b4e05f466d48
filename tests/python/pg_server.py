# A real PostgreSQL server for tests that put the broker's journal in one (`titan broker --journal`):
# `initdb` + `pg_ctl` in a fresh directory under the temp dir, on a free loopback port, its socket in that
# directory. PostgreSQL refuses to run as root: as root (CI) it runs as the `postgres` system user, which
# owns the directory; otherwise as the current user. Skips the test only when PostgreSQL is not
# installed (cli/install.sh with TITAN_TEST_TOOLS=1 installs it, so CI runs these tests).
# Also a primary with a synchronous standby (`pg_basebackup -R`), a crash of a server's machine (SIGKILL
# of the postmaster and of every child) and a promotion. Fixtures stop their servers in finalizers, also
# when the test fails. A process that is itself killed (SIGKILL, the suite's hard timeout) does not leave its
# servers running: each server has a watchdog (a shell in a session of its own, reading a pipe only this
# process writes) that stops it (`pg_ctl stop -m immediate`) and deletes its directory when the pipe ends
# without "done", which is when this process ends, however. Should the watchdog die too, the next run
# reaps the server: reap_orphans() stops those whose directory's owner.pid names no running process.
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

# The watchdog: `sh -c WATCHDOG sh DIR COMMAND...` waits for a line on stdin; anything but "done" (EOF: the
# process that started the server ended) runs COMMAND (pg_ctl stop -m immediate) and deletes DIR.
WATCHDOG = 'dir=$1; shift; read -r line; [ "$line" = done ] && exit 0; "$@" >/dev/null 2>&1; rm -rf "$dir"'
OWNER_FILE = "owner.pid"  # in the server's directory: the pid of the process the server belongs to


def bin_dir() -> Optional[str]:
    """The newest /usr/lib/postgresql/N/bin with initdb and pg_ctl, else the one on PATH; None: absent."""
    found = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.path.exists(os.path.join(d, "pg_ctl"))
             and os.path.exists(os.path.join(d, "initdb"))]
    found.sort(key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit() else 0)
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb and shutil.which("pg_ctl") else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A primary that waits, at every COMMIT, for its standby named STANDBY_NAME to have the commit on disk.
STANDBY_NAME = "titan_standby"
SYNC_PRIMARY_SETTINGS = {"wal_level": "replica", "max_wal_senders": "4", "synchronous_commit": "on",
                         "synchronous_standby_names": STANDBY_NAME}


def _children(pid: int) -> List[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(Path(stat).parent.name))
    return found


def _signal(pids: List[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass  # it ended meanwhile


def _is_postgres(pid: int) -> bool:
    try:
        return Path("/proc/%d/comm" % pid).read_text().strip() in ("postgres", "postmaster")
    except OSError:
        return False


def _gone(pid: int) -> bool:
    """No process `pid` runs (absent, or a zombie its new parent has not reaped)."""
    try:
        return Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


class PostgresServer:
    """One server; new_database() gives each test a database of its own. `durable`: fsync on (benchmarks);
    tests of the broker run with fsync off. `settings`: more `-c name=value` for the server."""

    def __init__(self, durable: bool = False, settings: Optional[Dict[str, str]] = None):
        self.bin = bin_dir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed")
        self.dir = Path(tempfile.mkdtemp(prefix="titan-pg-"))
        self.port = free_port()
        self.durable = durable
        self.settings = dict(settings or {})
        self.runner: List[str] = []
        self.databases = 0
        self.running = False
        self.watchdog: Optional[subprocess.Popen] = None  # stops the server when this process ends
        (self.dir / OWNER_FILE).write_text("%d\n" % os.getpid())

    @property
    def data(self) -> str:
        return str(self.dir / "data")

    def _run(self, *args: str) -> None:
        proc = subprocess.run(self.runner + [os.path.join(self.bin, args[0])] + list(args[1:]),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if proc.returncode != 0:
            log = self.dir / "server.log"
            raise RuntimeError("%s failed:\n%s\n%s" % (" ".join(args), proc.stdout,
                                                       log.read_text() if log.exists() else ""))

    def _own_directory(self) -> None:
        if os.geteuid() == 0:  # PostgreSQL refuses root: the postgres user runs it, in a directory it owns
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.runner = ["runuser", "-u", "postgres", "--"]

    def _launch(self) -> "PostgresServer":
        options = "-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=200" % (self.port, self.dir)
        if not self.durable:
            options += " -c fsync=off"
        options += "".join(" -c %s=%s" % kv for kv in self.settings.items())
        self.running = True  # from here on stop() ends it, even if pg_ctl gives up waiting for it
        self._watch()
        self._run("pg_ctl", "-D", self.data, "-l", str(self.dir / "server.log"), "-w", "-o", options, "start")
        return self

    def _watch(self) -> None:
        """Starts the watchdog (before the server: there is no moment when the server runs unwatched). Its
        session is its own, so a signal to this process's group does not end it before it did its job. One per
        server, also when it is started again after a crash()."""
        if self.watchdog is not None:
            return
        stop = self.runner + [os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "stop"]
        self.watchdog = subprocess.Popen(["sh", "-c", WATCHDOG, "sh", str(self.dir)] + stop, stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)

    def _unwatch(self) -> None:
        if self.watchdog is not None:
            try:
                self.watchdog.stdin.write(b"done\n")
                self.watchdog.stdin.close()
            except BrokenPipeError:
                pass  # it ended already
            self.watchdog.wait(60)
            self.watchdog = None

    def start(self) -> "PostgresServer":
        self._own_directory()
        self._run("initdb", "-D", self.data, "-U", "titan", "--auth=trust", "-E", "UTF8", "--no-sync")
        with open(os.path.join(self.data, "pg_hba.conf"), "a") as hba:  # a standby may stream from loopback
            hba.write("host replication titan 127.0.0.1/32 trust\n")
        return self._launch()

    def start_standby(self) -> "PostgresServer":
        """A new server streaming from this one (`pg_basebackup -R`) on a port of its own, named STANDBY_NAME
        (SYNC_PRIMARY_SETTINGS make it synchronous); hot, so it answers reads. Stop it too."""
        standby = PostgresServer(self.durable, {"cluster_name": STANDBY_NAME})
        try:
            standby._own_directory()
            standby._run("pg_basebackup", "-d", "host=127.0.0.1 port=%d user=titan application_name=%s"
                         % (self.port, STANDBY_NAME), "-D", standby.data, "-R", "-X", "stream",
                         "--checkpoint=fast", "--no-sync")
            return standby._launch()
        except BaseException:
            standby.stop()
            raise

    def replication(self) -> List[Tuple[str, str, str]]:
        """pg_stat_replication's (application_name, state, sync_state) rows: this primary's standbys."""
        rows = self.sql(self.uri("postgres"), "SELECT application_name, state, sync_state FROM pg_stat_replication")
        return [tuple(r.split("|")) for r in rows.splitlines() if r]

    def postmaster_pid(self) -> int:
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def crash(self, deadline_s: float = 30) -> float:
        """The loss of the server's machine: every process of it stops at once (SIGSTOP of the postmaster,
        so that it starts no more, and of its children), then SIGKILL of all (none ends cleanly or sends one
        more byte). Returns, once none of them runs, the monotonic time from which none ran."""
        postmaster = self.postmaster_pid()
        if not _is_postgres(postmaster):
            raise RuntimeError("process %d of %s/postmaster.pid is not PostgreSQL's" % (postmaster, self.data))
        _signal([postmaster], signal.SIGSTOP)
        victims = [postmaster] + _children(postmaster)
        _signal(victims, signal.SIGSTOP)
        stopped_at = time.monotonic()
        _signal(victims, signal.SIGKILL)
        deadline = time.monotonic() + deadline_s
        while not all(_gone(pid) for pid in victims):
            assert time.monotonic() < deadline, "PostgreSQL processes outlived SIGKILL by %g s" % deadline_s
            time.sleep(0.01)
        self.running = False
        return stopped_at

    def restart(self) -> "PostgresServer":
        """Starts the server again on its data directory (after crash()): what it had committed."""
        return self._launch()

    def pause(self) -> None:
        """SIGSTOP of the postmaster and of its children: the server neither answers nor streams until resume()."""
        postmaster = self.postmaster_pid()
        _signal([postmaster], signal.SIGSTOP)
        _signal(_children(postmaster), signal.SIGSTOP)

    def resume(self) -> None:
        postmaster = self.postmaster_pid()
        _signal(_children(postmaster) + [postmaster], signal.SIGCONT)

    def promote(self) -> None:
        """`pg_ctl promote`: this standby ends recovery and accepts writes; returns once it does."""
        self._run("pg_ctl", "-D", self.data, "-w", "promote")

    def uri(self, database: str) -> str:
        return "postgresql://titan@127.0.0.1:%d/%s" % (self.port, database)

    def new_database(self) -> str:
        """A new empty database; its URI."""
        self.databases += 1
        name = "t%d_%d" % (os.getpid(), self.databases)
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "titan", name)
        return self.uri(name)

    def sql(self, uri: str, query: str) -> str:
        """`query`'s rows through psql (unaligned, tuples only)."""
        proc = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-At", "-d", uri, "-c", query],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError("psql failed: %s" % proc.stderr)
        return proc.stdout

    def stop(self) -> None:
        """Ends the server (whatever state it is in) and deletes its directory."""
        if self.running:
            subprocess.run(self.runner + [os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate",
                                          "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            pid_file = os.path.join(self.data, "postmaster.pid")
            if os.path.exists(pid_file) and _is_postgres(self.postmaster_pid()):  # pg_ctl could not stop it
                self.crash()
            self.running = False
        self._unwatch()
        shutil.rmtree(self.dir, ignore_errors=True)


def _runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return not _gone(pid)


def reap_orphans() -> List[str]:
    """Stops the servers (and deletes the directories) of test processes that ended without stopping them and
    whose watchdog did not either; returns their directories. Servers of running processes, and directories
    without an owner.pid (not made by this module), are left alone."""
    reaped = []
    for owner in glob.glob(os.path.join(tempfile.gettempdir(), "titan-pg-*", OWNER_FILE)):
        folder = os.path.dirname(owner)
        try:
            pid = int(Path(owner).read_text().strip() or 0)
        except (OSError, ValueError):
            continue
        if pid <= 0 or _runs(pid):
            continue
        data = os.path.join(folder, "data")
        if os.path.exists(os.path.join(data, "postmaster.pid")) and bin_dir() is not None:
            runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            subprocess.run(runner + [os.path.join(bin_dir(), "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
        reaped.append(folder)
    return reaped


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL server (skips when PostgreSQL is not installed)."""
    if bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on PATH): "
                    "apt-get install postgresql, or cli/install.sh with TITAN_TEST_TOOLS=1")
    reap_orphans()
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def pg_journal(postgres):
    """A database of this test's own on the session's server: its URI, for `titan broker --journal`."""
    return postgres.new_database()


@pytest.fixture
def postgres_pair():
    """A primary (with SYNC_PRIMARY_SETTINGS) and its standby, which streams and is synchronous before the
    test starts; both stopped at teardown, whatever the test did to them."""
    if bin_dir() is None:
        pytest.skip("PostgreSQL is not installed: apt-get install postgresql, or cli/install.sh with "
                    "TITAN_TEST_TOOLS=1")
    primary = PostgresServer(settings=SYNC_PRIMARY_SETTINGS)
    standby = None
    try:
        standby = primary.start().start_standby()
        deadline = time.monotonic() + 60
        while (STANDBY_NAME, "streaming", "sync") not in primary.replication():
            assert time.monotonic() < deadline, "the standby is not a synchronous one: %r" % primary.replication()
            time.sleep(0.05)
        yield primary, standby
    finally:
        for server in (standby, primary):
            if server is not None:
                server.stop()
