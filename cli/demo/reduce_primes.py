"""Demo reducer: sums the mappers' results from TitanStore (the bus every worker reaches) and checks them.

Each worker has its own shared folder, so the result files it finds are those of the mappers that ran
on its worker; TitanStore has them all."""
import glob
import os
import sys

from titan_sdk import TitanClient

run, limit, expected = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = TitanClient()
total = int(client.store_get(f"demo:{run}:primes"))
ranges = client.store_smembers(f"demo:{run}:ranges")
files = glob.glob(os.path.join(os.environ["TITAN_SHARED_DIR"], f"demo-{run}-*.txt"))
from_files = sum(int(open(f).read().split()[2]) for f in files)
print(f"{len(ranges)} ranges reported to TitanStore; {len(files)} of their result files are on this worker "
      f"({from_files:,} primes)")
print(f"primes below {limit:,}: {total:,}; known answer {expected:,}")
if total != expected:
    sys.exit("MISMATCH")
print("verified")
