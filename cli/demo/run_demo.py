"""Titan demo: a map-reduce DAG counting the primes below 50,000,000 on the local cluster.

Eight mapper jobs run in parallel on the workers, each adding its count to TitanStore and writing a
file to the shared folder; a reducer that depends on all of them checks the total. Run by cli/demo.sh.
"""
import os
import time
import uuid

from titan_sdk import TitanClient, TitanJob

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT, EXPECTED, MAPPERS = 50_000_000, 3_001_134, 8

client = TitanClient()
run = uuid.uuid4().hex[:8]
step = LIMIT // MAPPERS
mappers = [TitanJob(job_id=f"map-{run}-{i}", filename=os.path.join(HERE, "map_primes.py"),
                    args=f"{run} {i * step} {(i + 1) * step}")
           for i in range(MAPPERS)]
reducer = TitanJob(job_id=f"reduce-{run}", filename=os.path.join(HERE, "reduce_primes.py"),
                   args=f"{run} {LIMIT} {EXPECTED}", parents=[m.job_id for m in mappers])
started = time.time()
client.submit_dag(f"primes-{run}", mappers + [reducer])
print(f"submitted DAG primes-{run}: {MAPPERS} mappers -> 1 reducer")
state = client.wait(reducer.job_id, timeout=300)
print(f"reducer {state} after {time.time() - started:.1f} s\n")
for m in mappers[:3]:
    print(client.fetch_logs(m.job_id).strip())
print("...")
print(client.fetch_logs(reducer.job_id))
workers = {client.get_job(m.job_id)["worker"] for m in mappers}
print(f"mappers ran on: {', '.join(sorted(workers))}")
raise SystemExit(0 if state == "COMPLETED" else 1)
