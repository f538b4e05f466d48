#!/usr/bin/env python3
# A chaos run from the command line, as long as wanted:
#   .venv/bin/python tests/chaos/run_chaos.py --minutes 30 --seed 7 [--without disk-full] [--without worker-stop]
# Prints progress and the per-fault table; exits 1 when a check failed (the failures are printed).
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chaos_env  # noqa: E402

chaos_env.prepare()

from driver import ChaosConfig, ChaosRun  # noqa: E402
from faults import SHORT_NAMES, TinyDisk  # noqa: E402


def main() -> int:
    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(description="Run Titan under seeded faults and check what it guarantees.")
    parser.add_argument("--minutes", type=float, default=defaults.minutes, help="how long faults are injected")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="picks the sequence of faults")
    parser.add_argument("--disk-full", action="store_true", help="fill the broker's disk (a tmpfs: needs root); on by default where it can run, "
                        "--without disk-full leaves it out")
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--rate", type=float, default=defaults.submit_rate, help="jobs submitted per second")
    parser.add_argument("--without", action="append", default=[], choices=sorted(SHORT_NAMES),
                        help="leave this kind of fault out (repeat for several)")
    parser.add_argument("--dir", help="where the cluster's data goes (default: a new temporary folder)")
    parser.add_argument("--report", help="also write the per-fault table (markdown) to this file")
    args = parser.parse_args()
    if args.disk_full and TinyDisk.unsupported():
        parser.error("--disk-full: " + TinyDisk.unsupported())
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="titan-chaos-"))
    disk_full = args.disk_full or TinyDisk.unsupported() is None
    config = ChaosConfig(seed=args.seed, minutes=args.minutes, disk_full=disk_full, workers=args.workers,
                         submit_rate=args.rate, without=tuple(SHORT_NAMES[k] for k in args.without))
    result = ChaosRun(config, root, log=lambda line: print(line, flush=True)).run()
    print(result.report)
    if args.report:
        Path(args.report).write_text(result.report)
    for failure in result.failures:
        print("FAILED: " + failure, file=sys.stderr)
    print("data in %s" % root)
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
