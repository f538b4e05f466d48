"""The Celery app and tasks of the side-by-side benchmark (celery_driver.py starts the workers with
`-A celery_tasks`). Broker and result backend: the Redis at $PEER_REDIS_URL."""
import os
import subprocess
import sys

from celery import Celery

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads as W  # noqa: E402

app = Celery("peer_bench", broker=os.environ["PEER_REDIS_URL"], backend=os.environ["PEER_REDIS_URL"])
# Celery's defaults, except the result of each task is kept (the benchmark waits on results) and acks
# are late (a task whose worker dies is delivered again: the setting a user who cares about loss picks).
app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                broker_connection_retry_on_startup=True)


@app.task
def noop(*_):
    return None


@app.task
def run(argv):
    return subprocess.run(argv, check=True).returncode


@app.task
def kill_task(record_dir, task):
    import time
    time.sleep(W.KILL_TASK_S)
    W.record_completion(record_dir, task)
    return task
