#!/usr/bin/env python3
"""Turns the RESULT lines of one run_all.sh log into a Markdown table of Titan numbers beside the
references measured in the same run. Ratios only: no pass/fail (the aims are shown for context)."""
import statistics
import sys


def parse(path):
    rows, machine = [], ""
    with open(path) as f:
        for line in f:
            if line.startswith("== machine:"):
                machine = line[len("== machine:"):].strip()
            if not line.startswith("RESULT "):
                continue
            words = line.split()
            row = {"bench": words[1]}
            for w in words[2:]:
                k, _, v = w.partition("=")
                row[k] = v
            rows.append(row)
    return rows, machine


def num(row, key):
    try:
        return float(row.get(key, "nan"))
    except ValueError:
        return float("nan")


def ratio(a, b):
    if not (b == b and a == a and b > 0):
        return "n/a"
    r = a / b
    return f"{r:.2f}" if r >= 0.1 or r == 0 else f"{r:.3f}"


def spread(values):
    """'median (min-max)' of a list of rates."""
    if not values:
        return "n/a", float("nan")
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.0f}", med
    return f"{med:,.0f} ({min(values):,.0f}-{max(values):,.0f})", med


def store_table(rows):
    groups = {}
    for r in rows:
        if r["bench"] != "store_bench":
            continue
        key = (r["mode"], r["op"], r["clients"], r["window"])
        groups.setdefault(key, {"titan": [], "redis": []})[r["system"]].append(num(r, "ops_per_s"))
    out = ["| TitanStore mode (Redis reference) | op | clients x in flight | Titan ops/s, median (range) | Redis ops/s, median (range) | Titan/Redis (medians) | aim |",
           "|---|---|---|---:|---:|---:|---|"]
    for (mode, op, clients, window), g in groups.items():
        ref_mode = "durable (Redis appendfsync always)" if mode == "durable" else "--no-sync (Redis no persistence)"
        aim = ">= 0.50" if clients == "50" and window == "1" else ""
        t_text, t = spread(g["titan"])
        r_text, rr = spread(g["redis"])
        out.append(f"| {ref_mode} | {op} | {clients} x {window} | {t_text} | {r_text} | {ratio(t, rr)} | {aim} |")
    return out


LABELS = {
    "process.elf": "process jobs: /bin/true ELF",
    "process.sh": "process jobs: bash `exit 0` .sh",
    "control.b1": "control plane (noop): JOB_SUBMIT of 1",
    "control.b100": "control plane (noop): JOB_SUBMIT of 100",
}


def shape(case):
    tag = case.rsplit(".", 1)[-1]  # e.g. 2w4s
    workers, slots = tag[:-1].split("w")
    return int(workers), int(slots)


def jobs_table(rows):
    out = ["| jobs (end to end, submit -> all COMPLETED) | workers x slots | Titan jobs/s | reference (measured just before) | ref/s | Titan/ref | aim |",
           "|---|---|---:|---|---:|---:|---|"]
    for r in (r for r in rows if r["bench"] == "jobs_bench"):
        case = r["case"]
        kind = case.rsplit(".", 1)[0]
        workers, slots = shape(case)
        rate, ref = num(r, "jobs_per_s"), num(r, "ref_per_s")
        if kind.startswith("process"):
            prog = "/bin/true" if kind == "process.elf" else "bash x.sh"
            ref_name = f"raw posix_spawn+waitpid `{prog}`, {workers * slots} in flight"
            aim = ">= 0.45 and >= 1,500 jobs/s" if kind == "process.elf" else ""
        else:
            window, batch = int(r["window"]), int(r["batch"])
            ref_name = f"raw ZeroMQ DEALER/ROUTER echo, {window} in flight" + (f", x{batch} jobs per message" if batch > 1 else "")
            aim = ">= 20,000 jobs/s"
        note = "" if r.get("complete") == "yes" else " (INCOMPLETE)"
        out.append(f"| {LABELS.get(kind, kind)}{note} | {workers} x {slots} | {rate:,.0f} | {ref_name} | {ref:,.0f} | "
                   f"{ratio(rate, ref)} | {aim} |")
    return out


def latency_table(rows):
    out = ["| latency, one job at a time (ms) | jobs | accepted p50 | RUNNING (assigned) p50 | started p50 / p99 | COMPLETED p50 / p99 | aim |",
           "|---|---:|---:|---:|---:|---:|---|"]
    names = {"latency.noop": "noop executor", "latency.elf": "process: /bin/true ELF", "latency.sh": "process: bash .sh"}
    for r in (r for r in rows if r["bench"] == "latency"):
        out.append(f"| {names.get(r['case'], r['case'])} | {r['jobs']} | {num(r, 'accepted_p50_ms'):.2f} | "
                   f"{num(r, 'assigned_p50_ms'):.2f} | {num(r, 'started_p50_ms'):.2f} / {num(r, 'started_p99_ms'):.2f} | "
                   f"{num(r, 'done_p50_ms'):.2f} / {num(r, 'done_p99_ms'):.2f} | start p50 < 1.5 |")
    return out


def failure_table(rows):
    trials = [r for r in rows if r["bench"] == "failure"]
    out = ["| failure detection (kill -9 of a worker running a job, 1 s heartbeat) | median s | trials (s) | original Titan (published) | Titan/original |",
           "|---|---:|---|---:|---:|"]
    for key, what in (("lost_ms", "-> EVENT_WORKER lost"), ("requeued_ms", "-> job QUEUED again"),
                      ("rerun_ms", "-> job RUNNING on another worker")):
        vals = [num(t, key) / 1000 for t in trials if num(t, key) >= 0]
        if not vals:
            continue
        med = statistics.median(vals)
        out.append(f"| {what} | {med:.2f} | {', '.join(f'{v:.2f}' for v in vals)} | ~30 | {med / 30:.2f} |")
    return out


def artifact_table(rows):
    """Upload/download MB/s of one file through the CLI and a local broker, beside the raw loopback TCP
    file -> file copy of the same bytes from the same run, and the peak RSS of each side."""
    arts = [r for r in rows if r["bench"] == "artifact_bench"]
    if not any(r.get("case") in ("upload", "download") for r in arts):
        return []
    out = ["| artifacts (one file, local broker) | size | Titan MB/s, median (range) | transfer only, median | "
           "raw TCP file->file MB/s, median (range) | Titan/raw | aim | CLI peak RSS | broker peak RSS | hash verified |",
           "|---|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    sizes = sorted({int(r["size_mib"]) for r in arts if "size_mib" in r})
    for size in sizes:
        raw = [num(r, "file_mb_s") for r in arts if r["case"] == "raw_tcp" and int(r["size_mib"]) == size]
        raw_text, raw_med = spread(raw)
        for case, label in (("upload", "`titan upload`"), ("download", "`titan artifacts get`")):
            runs = [r for r in arts if r["case"] == case and int(r["size_mib"]) == size]
            if not runs:
                continue
            t_text, t = spread([num(r, "mb_s") for r in runs])
            transfer = statistics.median([num(r, "transfer_mb_s") for r in runs])
            cli = max(num(r, "cli_rss_kib") for r in runs) / 1024
            broker = max(num(r, "broker_rss_kib") for r in runs) / 1024
            ok = "yes" if all(r.get("ok") == "yes" for r in runs) else "NO"
            size_text = f"{size // 1024} GiB" if size % 1024 == 0 else f"{size} MiB"
            out.append(f"| {label} | {size_text} | {t_text} | {transfer:,.0f} | {raw_text} | {ratio(t, raw_med)} | >= 0.50 | "
                       f"{cli:.1f} MiB | {broker:.1f} MiB | {ok} |")
    return out


def artifact_context(rows):
    arts = [r for r in rows if r["bench"] == "artifact_bench"]
    out = []
    for size in sorted({int(r["size_mib"]) for r in arts if r.get("case") == "raw_tcp"}):
        mem = [num(r, "mem_mb_s") for r in arts if r.get("case") == "raw_tcp" and int(r["size_mib"]) == size]
        out.append(f"raw loopback TCP, file -> memory (no disk writes), {size} MiB: {spread(mem)[0]} MB/s")
    idle = [num(r, "broker_rss_kib") / 1024 for r in arts if r.get("case") == "broker_idle"]
    if idle:
        out.append(f"broker RSS when idle, before the first transfer: {idle[0]:.1f} MiB")
    return out


def context(rows):
    out = []
    probes = [r for r in rows if r["bench"] == "fsync_probe"]
    if probes:
        p50 = [num(r, "p50_us") / 1000 for r in probes]
        p99 = [num(r, "p99_us") / 1000 for r in probes]
        out.append(f"fdatasync after appending 4 KiB (file grows: ext4 journal commit, like Redis's AOF), "
                   f"{len(probes)} probes of 200 during the run: p50 {min(p50):.2f}-{max(p50):.2f} ms "
                   f"(median {statistics.median(p50):.2f}), p99 up to {max(p99):.2f} ms")
        ow = [num(r, "overwrite_p50_us") / 1000 for r in probes if "overwrite_p50_us" in r]
        if ow:
            out.append(f"fdatasync after overwriting 4 KiB in place (data only, like SQLite's reused WAL): "
                       f"p50 {min(ow):.2f}-{max(ow):.2f} ms (median {statistics.median(ow):.2f})")
    for r in rows:
        if r["bench"] == "breakdown":
            out.append(f"slot time of a process job ({r['case']}, {r['jobs']} jobs at {num(r, 'jobs_per_s'):.0f} jobs/s): "
                       f"assigned->started p50 {num(r, 'assigned_to_started_p50_ms'):.1f} ms, "
                       f"started->COMPLETED p50 {num(r, 'started_to_done_p50_ms'):.1f} ms, "
                       f"assigned->COMPLETED p50 {num(r, 'assigned_to_done_p50_ms'):.1f} / p99 {num(r, 'assigned_to_done_p99_ms'):.1f} ms")
    return out


def main():
    rows, machine = parse(sys.argv[1])
    print(f"Machine: {machine}\n")
    for table in (store_table(rows), jobs_table(rows), latency_table(rows), failure_table(rows), artifact_table(rows)):
        if len(table) <= 2:
            continue  # a section that did not run
        print("\n".join(table))
        print()
    for line in context(rows) + artifact_context(rows):
        print(f"- {line}")


if __name__ == "__main__":
    main()
