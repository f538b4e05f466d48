"""Demo mapper: counts the primes in [lo, hi) with a segmented sieve and adds the count to TitanStore."""
import math
import os
import sys

from titan_sdk import TitanClient


def primes_in(lo, hi):
    base = [True] * (math.isqrt(hi) + 1)
    small = []
    for n in range(2, len(base)):
        if base[n]:
            small.append(n)
            for m in range(n * n, len(base), n):
                base[m] = False
    seg = bytearray([1]) * (hi - lo)
    for p in small:
        start = max(p * p, (lo + p - 1) // p * p)
        seg[start - lo::p] = bytes(len(range(start, hi, p)))
    return sum(seg) - sum(1 for n in (0, 1) if lo <= n < hi)


run, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
count = primes_in(lo, hi)
client = TitanClient()  # TITAN_HOST/TITAN_PORT come from the worker
client.store_incr(f"demo:{run}:primes", count)
client.store_sadd(f"demo:{run}:ranges", f"{lo}-{hi}")
with open(os.path.join(os.environ["TITAN_SHARED_DIR"], f"demo-{run}-{lo}.txt"), "w") as f:
    f.write(f"{lo} {hi} {count}\n")
print(f"[{os.environ['TITAN_JOB_ID']}] {count} primes in [{lo}, {hi})")
