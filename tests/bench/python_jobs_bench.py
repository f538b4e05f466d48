"""Python script jobs benchmark (issue 18): one-line .py jobs through the SDK on a real `titan up` (2 workers x 4
slots), forked from the workers' warm interpreters against started cold (JobSpec.cold_start), with the
reference of raw spawns of the same interpreter running the same script (os.posix_spawn, 8 in flight),
interleaved in rounds, in one run. Prints jobs/s for each and the ratio warm / raw cold spawn.

Run: .venv/bin/python tests/bench/python_jobs_bench.py [--jobs N] [--rounds N]
"""
import argparse
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "sdk", "python"))
from titan_sdk import TitanClient, TitanJob  # noqa: E402
from titan_up import titan_up  # noqa: E402
IN_FLIGHT = 8  # the cluster's slots: 2 workers x 4


def through_titan(client, script, n, prefix, cold):
    """Submits n jobs, waits for all; returns jobs/s."""
    t0 = time.perf_counter()
    ids = [client.submit_job(TitanJob("%s-%d" % (prefix, i), script, cold_start=cold)) for i in range(n)]
    for job_id in ids:
        state = client.wait(job_id, 120)
        assert state == "COMPLETED", (job_id, state, client.fetch_logs(job_id))
    return n / (time.perf_counter() - t0)


def raw_spawn(python, script, n, env):
    """The reference: posix_spawn of `python script`, IN_FLIGHT at once; returns spawns/s."""
    t0 = time.perf_counter()
    running, started = 0, 0
    while started < n or running:
        while running < IN_FLIGHT and started < n:
            os.posix_spawn(python, [python, script], env)
            running += 1
            started += 1
        _, status = os.wait()
        assert os.waitstatus_to_exitcode(status) == 0
        running -= 1
    return n / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=200, help="jobs per round and way")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    env = dict(os.environ, TITAN_PYTHON=sys.executable)
    with titan_up("titan-pyjobs-bench-", ["--workers", "2", "--slots", "4"], env) as (data, port):
        script = os.path.join(data, "one_line.py")
        with open(script, "w") as f:
            f.write("x = 1\n")
        job_env = dict(os.environ, PYTHONUNBUFFERED="1")
        results = {"warm (forked)": [], "cold (cold_start=True)": [], "raw spawn, 8 in flight": []}
        with TitanClient(port=port, timeout=60) as client:
            through_titan(client, script, 40, "warmup", cold=False)  # starts the fork servers
            for r in range(args.rounds):
                results["warm (forked)"].append(through_titan(client, script, args.jobs, "r%d-warm" % r, False))
                results["cold (cold_start=True)"].append(
                    through_titan(client, script, args.jobs, "r%d-cold" % r, True))
                results["raw spawn, 8 in flight"].append(raw_spawn(sys.executable, script, args.jobs, job_env))
        medians = {name: statistics.median(v) for name, v in results.items()}
        for name, values in results.items():
            print("%-24s %7.1f jobs/s (median of %s)" % (name, medians[name], " / ".join("%.1f" % v for v in values)))
        raw = medians["raw spawn, 8 in flight"]
        print("warm / raw cold spawn: %.2fx   cold / raw cold spawn: %.2fx   warm / cold: %.2fx"
              % (medians["warm (forked)"] / raw, medians["cold (cold_start=True)"] / raw,
                 medians["warm (forked)"] / medians["cold (cold_start=True)"]))


if __name__ == "__main__":
    main()
