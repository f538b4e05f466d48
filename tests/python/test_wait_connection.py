# wait() keeps one connection per waiting thread instead of opening one per call (issue 18: 10,000 waits
# left ~10,000 TIME_WAIT sockets): counted from the kernel's own socket table, /proc/net/tcp.
import threading

from cluster import unique_id, write_script
from titan_sdk import TitanJob

TIME_WAIT = "06"


def sockets_to(port: int, state: str = "") -> int:
    """This machine's IPv4 TCP sockets whose remote end is 127.0.0.1:`port` (in `state`, a /proc/net/tcp code)."""
    n = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for row in table:
            fields = row.split()
            remote, st = fields[2], fields[3]
            if remote.upper() == "0100007F:%04X" % port and (not state or st == state):
                n += 1
    return n


def test_many_waits_use_one_connection_and_leave_no_time_wait_sockets(cluster, broker_client, tmp_path):
    job_id = unique_id("waited")
    broker_client.submit_job(TitanJob(job_id, write_script(tmp_path, "w.py", "print('done')")))
    assert broker_client.wait(job_id, timeout=60) == "COMPLETED"
    before = sockets_to(cluster.port, TIME_WAIT)
    for _ in range(300):
        assert broker_client.wait(job_id, timeout=60) == "COMPLETED"
    assert sockets_to(cluster.port, TIME_WAIT) - before < 10  # a connection per call left 300
    assert len(broker_client._wait_conns) == 1


def test_each_thread_waits_on_its_own_connection_and_ended_threads_give_theirs_back(broker_client, tmp_path):
    script = write_script(tmp_path, "t.py", "print('t')")
    ids = [unique_id("threaded") for _ in range(4)]
    for job_id in ids:
        broker_client.submit_job(TitanJob(job_id, script))
    states = {}
    threads = [threading.Thread(target=lambda j=j: states.__setitem__(j, broker_client.wait(j, timeout=60)))
               for j in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert states == {j: "COMPLETED" for j in ids}
    assert len(broker_client._wait_conns) == 4
    assert broker_client.wait(ids[0], timeout=60) == "COMPLETED"  # this thread's: the ended threads' are closed
    assert list(broker_client._wait_conns) == [threading.get_ident()]
