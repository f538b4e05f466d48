# The map-reduce of issue 4 on a real cluster: four mappers each write a file to $TITAN_SHARED_DIR and
# add to TitanStore (store_incr, store_sadd); a reducer that depends on all of them reads both and
# prints the totals. The shared folder is per worker, so the jobs ask for their parent's worker
# (affinity) behind a root job: all of them then run where the reducer reads.
from cluster import unique_id, write_script
from titan_sdk import TitanJob

DEADLINE_S = 60
MAPPERS = 4

MAPPER = """
    import os, sys
    from titan_sdk import TitanClient

    run, index = sys.argv[1], int(sys.argv[2])
    value = (index + 1) * 10
    client = TitanClient()
    client.store_incr("mr:%s:total" % run, value)
    client.store_sadd("mr:%s:mappers" % run, os.environ["TITAN_JOB_ID"])
    with open(os.path.join(os.environ["TITAN_SHARED_DIR"], "mr-%s-%d.txt" % (run, index)), "w") as f:
        f.write(str(value))
    print("mapper", index, "wrote", value)
"""

REDUCER = """
    import glob, os, sys
    from titan_sdk import TitanClient

    run = sys.argv[1]
    client = TitanClient()
    files = glob.glob(os.path.join(os.environ["TITAN_SHARED_DIR"], "mr-%s-*.txt" % run))
    print("files=%d file_total=%d" % (len(files), sum(int(open(f).read()) for f in files)))
    print("store_total=%s mappers=%d" % (client.store_get("mr:%s:total" % run),
                                         len(client.store_smembers("mr:%s:mappers" % run))))
"""


def test_mappers_results_reach_the_reducer_through_shared_dir_and_titan_store(broker_client, tmp_path):
    run = unique_id("mr")
    mapper = write_script(tmp_path, "mapper.py", MAPPER)
    reducer = write_script(tmp_path, "reducer.py", REDUCER)
    root = write_script(tmp_path, "split.sh", "echo split\n")
    split = TitanJob(run + "-split", root)
    maps = [TitanJob("%s-map-%d" % (run, i), mapper, args="%s %d" % (run, i), parents=[split.job_id], affinity=True)
            for i in range(MAPPERS)]
    reduce_ = TitanJob(run + "-reduce", reducer, args=run, parents=[m.job_id for m in maps], affinity=True)
    broker_client.submit_dag(run, [split] + maps + [reduce_])
    result = broker_client.wait_dag(run, timeout=DEADLINE_S)
    assert result["state"] == "COMPLETED", [(j.id, j.state, j.reason) for j in result["jobs"]]
    assert len({j.worker for j in result["jobs"]}) == 1  # affinity kept them on one worker
    log = broker_client.fetch_logs(reduce_.job_id)
    assert "files=4 file_total=100\n" in log and "store_total=100 mappers=4\n" in log, log
    assert broker_client.store_get("mr:%s:total" % run) == "100"
