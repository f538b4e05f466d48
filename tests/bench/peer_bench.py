"""Side-by-side benchmark: Titan against Celery + Redis, Ray and Dask on the same workloads, each system with
2 workers x 4 slots on this machine, in interleaved rounds (each round runs every system once, in a rotated
order), with the raw references measured in every round: posix_spawn of /bin/true and of the Python
interpreter running the one-line script (8 in flight), a ZeroMQ REQ/REP round trip on loopback, and the floors
under the `/bin/true` and latency workloads: the same hops as Titan's job path with nothing else in them
(pipeline_floor.cc; build it with `cmake --build build --target pipeline_floor`), under `/bin/true` also with
each program joining cgroups as a Titan job does (as root).
Prints the median of each number over the rounds and the ratios the performance issue aims at.

The peers run in their own virtualenvs, never in CI: `tests/bench/peers/setup_envs.sh DIR` makes
DIR/{celery,ray,dask}; pass `--peers DIR` (a peer whose venv is missing is skipped and said so).
Titan runs from this checkout (TITAN_BIN, default build/bin/titan) with this interpreter's SDK.

Run: .venv/bin/python tests/bench/peer_bench.py --peers DIR [--rounds 3] [--scale 1] [--only noop_each,latency]
Workloads (tests/bench/peers/workloads.py): noop_dag noop_each true python latency fan memory kill.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PEERS_DIR = os.path.join(HERE, "peers")
sys.path.insert(0, PEERS_DIR)
import workloads as W  # noqa: E402

SYSTEMS = ("titan", "celery", "ray", "dask")
IN_FLIGHT = 8


def spawn_rate(argv, n):
    """Jobs/s of posix_spawn + waitpid of `argv`, `n` times, IN_FLIGHT at once: the spawn limit here."""
    running, started, t0 = set(), 0, time.perf_counter()
    devnull = os.open(os.devnull, os.O_RDWR)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    try:
        while started < n or running:
            while started < n and len(running) < IN_FLIGHT:
                running.add(os.posix_spawn(argv[0], argv, os.environ, file_actions=actions))
                started += 1
            pid, status = os.wait()
            running.discard(pid)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit("reference %s exited %d" % (argv, os.waitstatus_to_exitcode(status)))
    finally:
        os.close(devnull)
    return W.rate(n, time.perf_counter() - t0)


def zmq_round_trip(n):
    """p50 / p99 of a REQ -> REP -> REQ round trip of a small message over TCP on loopback."""
    import zmq
    ctx = zmq.Context.instance()
    rep, req = ctx.socket(zmq.REP), ctx.socket(zmq.REQ)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    req.connect("tcp://127.0.0.1:%d" % port)

    def echo():
        for _ in range(n + 1):
            rep.send(rep.recv())
    t = threading.Thread(target=echo, daemon=True)
    t.start()
    req.send(b"warm")
    req.recv()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        req.send(b"x" * 64)
        req.recv()
        samples.append(time.perf_counter() - t0)
    t.join()
    req.close(0)
    rep.close(0)
    return W.latency_summary(samples)


FLOOR_BIN = os.environ.get("PIPELINE_FLOOR_BIN", os.path.join(REPO, "build", "bench", "pipeline_floor"))


class FloorUnavailable(Exception):
    """pipeline_floor did not start (its own message is on stderr)."""


class Floor:
    """pipeline_floor.cc: the same hops as Titan's job path with nothing in them (a pyzmq DEALER -> broker: a
    4 KiB write per message and an fdatasync per turn -> "accepted"; broker -> worker (2 x 4 slots) -> broker,
    written and synced the same way -> PUB -> this SUB). `sync` False: no fdatasync; `spawn`: each job runs
    that program; `cgroups`: after joining cgroups as a Titan job does (root only; __enter__ raises
    FloorUnavailable otherwise). Use in a `with` block, after built() said the program is there."""

    def __init__(self, workdir, sync=True, spawn=None, cgroups=False):
        self.argv = ([FLOOR_BIN, "--dir", workdir] + ([] if sync else ["--no-sync"])
                     + (["--spawn", spawn] if spawn else []) + (["--cgroups"] if cgroups else []))
        self.proc = self.submit = self.events = None

    @staticmethod
    def built():
        if os.access(FLOOR_BIN, os.X_OK):
            return True
        print("no floor references: %s is not built (cmake --build build --target pipeline_floor)" % FLOOR_BIN,
              file=sys.stderr)
        return False

    def __enter__(self):
        import zmq
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ports = self.proc.stdout.readline().split()
        if len(ports) != 3:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
            raise FloorUnavailable("%s exited %d" % (" ".join(self.argv), self.proc.returncode))
        _, submit_port, events_port = ports
        ctx = zmq.Context.instance()
        self.submit, self.events = ctx.socket(zmq.DEALER), ctx.socket(zmq.SUB)
        self.submit.connect("tcp://127.0.0.1:" + submit_port)
        self.events.setsockopt(zmq.SUBSCRIBE, b"")
        self.events.setsockopt(zmq.RCVHWM, 0)  # rate() reads the events last: none may be dropped meanwhile
        self.events.connect("tcp://127.0.0.1:" + events_port)
        try:
            while not self.events.poll(0):  # until the subscription reaches the publisher
                self.submit.send(b"warm")
                self._recv(self.submit)
                self.events.poll(10)
            while self.events.poll(100):
                self.events.recv()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _recv(self, sock, timeout_s=60):
        """The next message on `sock`; FloorUnavailable when the program exited or nothing came in time."""
        import zmq
        try:
            return sock.recv(zmq.NOBLOCK)
        except zmq.Again:
            pass
        deadline = time.monotonic() + timeout_s
        while not sock.poll(100):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise FloorUnavailable("%s %s" % (" ".join(self.argv), "exited %d" % self.proc.returncode
                                                  if self.proc.returncode is not None else "did not answer"))
        return sock.recv()

    def __exit__(self, *exc):
        for sock in (self.submit, self.events):
            if sock is not None:
                sock.close(0)
        self.proc.stdin.close()
        self.proc.wait(timeout=30)

    def latency(self, n):
        """p50 / p99 of `n` sequential submit -> result round trips."""
        samples = []
        for i in range(n):
            body = b"job-%d" % i
            t0 = time.perf_counter()
            self.submit.send(body)
            self._recv(self.submit)
            while self._recv(self.events) != body:
                pass
            samples.append(time.perf_counter() - t0)
        return W.latency_summary(samples)

    def rate(self, n):
        """Jobs/s of `n` jobs sent at once, until the last one's result is seen."""
        t0 = time.perf_counter()
        for i in range(n):
            self.submit.send(b"job-%d" % i)
        for _ in range(n):
            self._recv(self.submit)
        for _ in range(n):
            self._recv(self.events)
        return W.rate(n, time.perf_counter() - t0)


def references(workdir, scale, only):
    out = {}
    if "true" in only:
        out["true"] = {"jobs_per_s": spawn_rate(["/bin/true"], W.size("true", scale))}
        if Floor.built():
            for key, cgroups in (("floor_jobs_per_s", False), ("floor_cgroups_jobs_per_s", True)):
                try:
                    with Floor(workdir, spawn="/bin/true", cgroups=cgroups) as floor:
                        out["true"][key] = floor.rate(W.size("true", scale))
                except FloorUnavailable as e:
                    print("no %s: %s" % (key, e), file=sys.stderr)
    if "python" in only:
        script = W.write_script(workdir, "reference.py")
        out["python"] = {"jobs_per_s": spawn_rate([sys.executable, script], W.size("python", scale))}
    if "latency" in only:
        out["latency"] = zmq_round_trip(W.size("latency", scale))
        if Floor.built():
            try:
                with Floor(workdir) as floor:
                    synced = floor.latency(W.size("latency", scale))
                with Floor(workdir, sync=False) as floor:
                    hops = floor.latency(W.size("latency", scale))
                out["latency"].update(floor_p50_ms=synced["p50_ms"], floor_p99_ms=synced["p99_ms"],
                                      hops_p50_ms=hops["p50_ms"], hops_p99_ms=hops["p99_ms"])
            except FloorUnavailable as e:
                print("no latency floor: %s" % e, file=sys.stderr)
    return out


def interpreters(peers_dir):
    found = {"titan": sys.executable}
    for name in SYSTEMS[1:]:
        python = os.path.join(peers_dir, name, "bin", "python") if peers_dir else None
        if python and os.access(python, os.X_OK):
            found[name] = python
        else:
            print("skipping %s: no venv at %s (make it with tests/bench/peers/setup_envs.sh)"
                  % (name, os.path.join(peers_dir or "<--peers>", name)), file=sys.stderr)
    return found


def run_driver(system, python, workdir, scale, only):
    cmd = [python, os.path.join(PEERS_DIR, system + "_driver.py"), "--workdir", workdir, "--scale", str(scale),
           "--only", ",".join(only)]
    with open(os.path.join(workdir, "driver.log"), "w") as log:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            results[row.pop("workload")] = row
    if proc.returncode != 0:
        print("%s driver exited %d (log: %s/driver.log); kept %d results" % (system, proc.returncode, workdir, len(results)),
              file=sys.stderr)
    return results


def median_of(rows, key):
    values = [r[key] for r in rows if key in r]
    return statistics.median(values) if values else None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peers", help="the folder setup_envs.sh made (celery/, ray/, dask/ venvs)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every workload's size")
    p.add_argument("--only", default=",".join(W.WORKLOADS))
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--json", help="also write every round's numbers here")
    args = p.parse_args()
    only = [w for w in args.only.split(",") if w]
    pythons = {k: v for k, v in interpreters(args.peers).items() if k in args.systems.split(",")}
    root = tempfile.mkdtemp(prefix="titan-peer-bench-")
    rounds = {name: {w: [] for w in only} for name in list(pythons) + ["reference"]}
    order = list(pythons)
    for r in range(args.rounds):
        for name in order[r % len(order):] + order[:r % len(order)]:
            workdir = os.path.join(root, "r%d-%s" % (r, name))
            os.makedirs(workdir)
            t0 = time.monotonic()
            got = run_driver(name, pythons[name], workdir, args.scale, only)
            print("round %d %-7s %5.1f s %s" % (r + 1, name, time.monotonic() - t0, json.dumps(got)), flush=True)
            for w, row in got.items():
                rounds[name][w].append(row)
        refdir = os.path.join(root, "r%d-reference" % r)
        os.makedirs(refdir)
        for w, row in references(refdir, args.scale, only).items():
            rounds["reference"][w].append(row)
        print("round %d reference %s" % (r + 1, json.dumps({w: v[-1] for w, v in rounds["reference"].items() if v})),
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rounds, f, indent=1)
    report(rounds, only, args)
    shutil.rmtree(root, ignore_errors=True)


def cell(rows, w):
    if not rows:
        return "—"
    if w in ("noop_dag", "noop_each", "true", "python"):
        return "{:,.0f}".format(median_of(rows, "jobs_per_s"))
    if w == "latency":
        return "%.2f / %.2f" % (median_of(rows, "p50_ms"), median_of(rows, "p99_ms"))
    if w == "fan":
        return "%.2f" % median_of(rows, "seconds")
    if w == "memory":
        return "%.0f" % median_of(rows, "mib")
    if w == "kill":
        return "%d lost / %d twice" % (sum(r["lost"] for r in rows), sum(r["twice"] for r in rows))
    return "?"


def report(rounds, only, args):
    systems = [s for s in rounds if s != "reference"]
    print("\n%d interleaved rounds, scale %g, medians (kill: summed over rounds)\n" % (args.rounds, args.scale))
    print("| workload | " + " | ".join(systems) + " | reference here |")
    print("|---|" + "---:|" * (len(systems) + 1))
    ref_text = {"true": "posix_spawn, 8 in flight", "python": "spawn of the interpreter, 8 in flight",
                "latency": "ZeroMQ REQ/REP round trip"}
    for w in only:
        ref = rounds["reference"].get(w) or []
        ref_cell = "%s: %s" % (ref_text[w], cell(ref, w)) if ref else "—"
        if w == "true" and median_of(ref, "floor_jobs_per_s") is not None:
            ref_cell += "; the same hops spawning it and nothing else: {:,.0f}".format(
                median_of(ref, "floor_jobs_per_s"))
            if median_of(ref, "floor_cgroups_jobs_per_s") is not None:
                ref_cell += "; the same, each program joining cgroups as a Titan job does: {:,.0f}".format(
                    median_of(ref, "floor_cgroups_jobs_per_s"))
        if w == "latency" and median_of(ref, "floor_p50_ms") is not None:
            ref_cell += ("; the same hops with two fdatasyncs and nothing else: %.2f / %.2f (without them: %.2f / %.2f)"
                         % (median_of(ref, "floor_p50_ms"), median_of(ref, "floor_p99_ms"),
                            median_of(ref, "hops_p50_ms"), median_of(ref, "hops_p99_ms")))
        print("| %s | %s | %s |" % (W.WORKLOADS[w][1], " | ".join(cell(rounds[s].get(w), w) for s in systems), ref_cell))
    titan = rounds.get("titan", {})

    def med(system, w, key):
        rows = rounds.get(system, {}).get(w)
        return median_of(rows, key) if rows else None
    ratios = [("one submit per task: Titan / Ray (aim ≥ 2)", med("titan", "noop_each", "jobs_per_s"),
               med("ray", "noop_each", "jobs_per_s")),
              ("one submit per task / Titan's DAG rate (aim ≥ 0.5)", med("titan", "noop_each", "jobs_per_s"),
               med("titan", "noop_dag", "jobs_per_s")),
              ("Python script jobs / raw cold spawn (aim ≥ 3)", med("titan", "python", "jobs_per_s"),
               med("reference", "python", "jobs_per_s")),
              ("/bin/true jobs / raw posix_spawn (aim ≥ 0.7)", med("titan", "true", "jobs_per_s"),
               med("reference", "true", "jobs_per_s"))]
    if titan:
        print("\n| ratio | measured |\n|---|---:|")
        for text, a, b in ratios:
            if a is not None and b:
                print("| %s | %.2f |" % (text, a / b))
        true_floor, true_titan = med("reference", "true", "floor_jobs_per_s"), med("titan", "true", "jobs_per_s")
        if true_titan is not None and true_floor:
            print("| /bin/true jobs / the same hops' floor (%.2f of raw posix_spawn) | %.2f |"
                  % (true_floor / med("reference", "true", "jobs_per_s"), true_titan / true_floor))
        true_cgroups = med("reference", "true", "floor_cgroups_jobs_per_s")
        if true_titan is not None and true_cgroups:
            print("| /bin/true jobs / that floor with the jobs' cgroups (%.2f of raw posix_spawn) | %.2f |"
                  % (true_cgroups / med("reference", "true", "jobs_per_s"), true_titan / true_cgroups))
        p50 = med("titan", "latency", "p50_ms")
        if p50 is not None:
            print("| submit → result p50 through the SDK (aim ≤ 0.6 ms) | %.2f ms |" % p50)
            floor = med("reference", "latency", "floor_p50_ms")
            if floor:
                print("| submit → result p50 / the same hops' floor p50 (%.2f ms) | %.2f |" % (floor, p50 / floor))


if __name__ == "__main__":
    main()
