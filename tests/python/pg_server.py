# A real PostgreSQL server for tests that put the broker's journal in one (`titan broker --journal`):
# `initdb` + `pg_ctl` in a fresh directory under the temp dir, on a free loopback port, its socket in that
# directory. PostgreSQL refuses to run as root: as root (CI) it runs as the `postgres` system user, which
# owns the directory; otherwise as the current user. Skips the test only when PostgreSQL is not
# installed (cli/install.sh with TITAN_TEST_TOOLS=1 installs it, so CI runs these tests).
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import List, Optional

import pytest


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


class PostgresServer:
    """One server; new_database() gives each test a database of its own. `durable`: fsync on (benchmarks);
    tests of the broker run with fsync off."""

    def __init__(self, durable: bool = False):
        self.bin = bin_dir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed")
        self.dir = Path(tempfile.mkdtemp(prefix="titan-pg-"))
        self.port = free_port()
        self.durable = durable
        self.runner: List[str] = []
        self.databases = 0
        self.running = False

    def _run(self, *args: str) -> None:
        proc = subprocess.run(self.runner + [os.path.join(self.bin, args[0])] + list(args[1:]),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if proc.returncode != 0:
            log = self.dir / "server.log"
            raise RuntimeError("%s failed:\n%s\n%s" % (" ".join(args), proc.stdout,
                                                       log.read_text() if log.exists() else ""))

    def start(self) -> "PostgresServer":
        if os.geteuid() == 0:  # PostgreSQL refuses root: the postgres user runs it, in a directory it owns
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.runner = ["runuser", "-u", "postgres", "--"]
        data = str(self.dir / "data")
        self._run("initdb", "-D", data, "-U", "titan", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = "-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=200" % (self.port, self.dir)
        if not self.durable:
            options += " -c fsync=off"
        self._run("pg_ctl", "-D", data, "-l", str(self.dir / "server.log"), "-w", "-o", options, "start")
        self.running = True
        return self

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
        if self.running:
            subprocess.run(self.runner + [os.path.join(self.bin, "pg_ctl"), "-D", str(self.dir / "data"), "-m",
                                          "immediate", "stop"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
            self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL server (skips when PostgreSQL is not installed)."""
    if bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on PATH): "
                    "apt-get install postgresql, or cli/install.sh with TITAN_TEST_TOOLS=1")
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_journal(postgres):
    """A database of this test's own on the session's server: its URI, for `titan broker --journal`."""
    return postgres.new_database()
