# Listing jobs through the SDK against a real cluster: pages behind a cursor, and the filters the broker
# applies (DAG, worker, capability, id text, submission time). The jobs here wait an hour (SCHEDULED), so
# what the test sees does not depend on when they would run.
import time

import pytest

from cluster import unique_id, write_script
from titan_sdk import JobPage, TitanJob

HOUR_MS = 3_600_000  # TitanJob.delay is in milliseconds


@pytest.fixture
def noop(tmp_path):
    return write_script(tmp_path, "noop.sh", "true\n")


def test_pages_follow_the_cursor_back_through_every_job_once(broker_client, noop):
    tag = unique_id("page")
    ids = ["%s-%02d" % (tag, i) for i in range(25)]
    broker_client.submit(None, [TitanJob(i, noop, delay=HOUR_MS) for i in ids])
    seen, cursor = [], None
    while True:
        page = broker_client.list_jobs_page(10, cursor, id_contains=tag)
        assert isinstance(page, JobPage) and len(page.jobs) <= 10
        seen += [j.id for j in page.jobs]
        if page.next_before_seq is None:
            break
        cursor = page.next_before_seq
    assert seen == list(reversed(ids))
    for i in ids:
        broker_client.stop_job(i)


def test_the_broker_filters_by_dag_capability_id_and_submission_time(broker_client, noop):
    tag = unique_id("flt")
    before_ms = int(time.time() * 1000)
    broker_client.submit_dag(tag, [TitanJob(tag + "-a", noop, delay=HOUR_MS),
                                   TitanJob(tag + "-gpu", noop, delay=HOUR_MS, requirement="GPU")])
    broker_client.submit_job(TitanJob(tag + "-loose", noop, delay=HOUR_MS))
    ids = lambda **f: [j.id for j in broker_client.list_jobs(limit=100, **f)]  # noqa: E731
    assert ids(dag=tag) == [tag + "-gpu", tag + "-a"]
    assert ids(id_contains=tag.upper(), requirement="GPU") == [tag + "-gpu"]
    assert ids(id_contains=tag, since_ms=before_ms) == [tag + "-loose", tag + "-gpu", tag + "-a"]
    assert ids(id_contains=tag, until_ms=before_ms) == []
    assert ids(id_contains=tag, worker="no-such-worker") == []
    assert ids(id_contains=tag, state="SCHEDULED") == [tag + "-loose", tag + "-gpu", tag + "-a"]
    with pytest.raises(ValueError, match="a page holds 1 .. 10000 jobs"):
        broker_client.list_jobs_page(0)
    for suffix in ("-a", "-gpu", "-loose"):
        broker_client.stop_job(tag + suffix)
