"""Demo reducer: reads the mappers' results from TitanStore and the shared folder and checks them."""
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
print(f"{len(ranges)} ranges reported to TitanStore, {len(files)} result files in the shared folder")
print(f"primes below {limit:,}: {total:,} (store) / {from_files:,} (files); known answer {expected:,}")
if total != expected or from_files != expected:
    sys.exit("MISMATCH")
print("verified")
