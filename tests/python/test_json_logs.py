# `--log-format json`: a store, a broker and a worker started with it write nothing but JSON objects, one per
# line, each with its time, level, component and message, and the worker's name where the line is about it.
import json
from datetime import datetime

from cluster import Cluster, unique_id, write_script
from titan_sdk import TitanClient, TitanJob

JSON = ["--log-format", "json"]


def lines_of(path):
    text = path.read_text()
    assert text.endswith("\n"), "a log that ends mid-line: %r" % text[-200:]
    return [json.loads(line) for line in text.splitlines()]  # any line that is not JSON fails here


def test_nodes_started_with_json_logs_write_one_object_per_line(tmp_path):
    cluster = Cluster(tmp_path, workers=[("w1", JSON)], store_args=JSON, broker_args=JSON).start()
    try:
        script = write_script(tmp_path, "hello.sh", 'echo "hello \\"quoted\\" \\t $1"\n')
        with TitanClient(port=cluster.port, timeout=10) as client:
            job = client.submit_job(TitanJob(job_id=unique_id("hello"), filename=script, args="x"))
            assert client.wait(job, timeout=60) == "COMPLETED"
    finally:
        cluster.stop()
    logs = {"store": lines_of(tmp_path / "store.stderr.log"), "broker": lines_of(tmp_path / "broker.stderr.log"),
            "worker": lines_of(tmp_path / "w1.stderr.log")}
    for component, lines in logs.items():
        assert lines, "the %s wrote no log line" % component
        for line in lines:
            assert list(line)[:4] == ["time", "level", "component", "message"], line
            assert line["component"] == component and line["level"] in ("info", "warning", "error"), line
            datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%S.%fZ")  # UTC, milliseconds
        assert any("stop" in l["message"] for l in lines), [l["message"] for l in lines]  # to the end
    joined = [l for l in logs["broker"] if "joined" in l["message"]]
    assert joined and joined[0]["worker"] == "w1", logs["broker"]
    assert all(l.get("worker") == "w1" for l in logs["worker"] if l["message"].startswith("worker w1")), logs["worker"]
    assert any(l["message"].startswith("serving ") for l in logs["store"])  # "store: " is the component's
