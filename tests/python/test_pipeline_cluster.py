# YAML pipelines end to end on a real cluster: a Titan-format and a Joblet-format file each run to
# COMPLETED through submit_yaml(wait=True), every script's output in its log; a refused DAG sends nothing.
import textwrap

import pytest

from cluster import unique_id, write_script
from titan_sdk import InvalidError, PipelineError

DEADLINE_S = 60


def write_yaml(folder, text):
    path = folder / "pipeline.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_titan_format_runs_end_to_end(broker_client, tmp_path):
    (tmp_path / "scripts").mkdir()
    write_script(tmp_path / "scripts", "extract.py", 'import sys; print("extract", sys.argv[1:])\n')
    write_script(tmp_path / "scripts", "load.sh", 'echo "load MODE=$MODE"\n')
    name, extract, load = unique_id("nightly"), unique_id("EXTRACT"), unique_id("LOAD")
    path = write_yaml(tmp_path, """
        name: %s
        jobs:
          - id: %s
            script: scripts/extract.py
            args: "--date 'two words'"
            priority: 5
          - id: %s
            script: scripts/load.sh
            dependencies: [%s]
            env: {MODE: fast}
            affinity: true
    """ % (name, extract, load, extract))
    dag = broker_client.submit_yaml(path, wait=True, timeout=DEADLINE_S)
    assert (dag["id"], dag["state"], dag["done"]) == (name, "COMPLETED", 2)
    assert broker_client.fetch_logs(extract) == "extract ['--date', 'two words']\n"
    assert broker_client.fetch_logs(load) == "load MODE=fast\n"
    assert broker_client.get_job(load).parents == [extract]


def test_pipeline_text_runs_with_its_scripts_from_the_folder_given(broker_client, tmp_path):
    write_script(tmp_path, "step.py", 'print("step ran")\n')
    name, step = unique_id("text"), unique_id("STEP")
    dag_id = broker_client.submit_yaml_text("name: %s\njobs:\n  - id: %s\n    script: step.py\n" % (name, step),
                                            folder=tmp_path)
    assert dag_id == name
    assert broker_client.wait_dag(dag_id, timeout=DEADLINE_S)["state"] == "COMPLETED"
    assert broker_client.fetch_logs(step) == "step ran\n"


def test_joblet_format_runs_end_to_end(broker_client, tmp_path):
    write_script(tmp_path, "transform.py", 'import sys; print("transform", sys.argv[1:])\n')
    name, first, second = unique_id("data-pipeline"), unique_id("transform"), unique_id("report")
    path = write_yaml(tmp_path, """
        version: "1.0"
        name: %s
        jobs:
          - name: %s
            command: python3
            args: [transform.py, --fast, "two words"]
            runtime: python-3.11
          - name: %s
            command: echo
            args: [done, "it's ok"]
            depends_on: [%s]
    """ % (name, first, second, first))
    dag_id = broker_client.submit_yaml(path)
    assert dag_id == name == broker_client.last_dag
    dag = broker_client.wait_dag(dag_id, timeout=DEADLINE_S)
    assert dag["state"] == "COMPLETED", [(j.id, j.state, j.reason) for j in dag["jobs"]]
    assert broker_client.fetch_logs(first) == "transform ['--fast', 'two words']\n"
    assert broker_client.fetch_logs(second) == "done it's ok\n"
    assert broker_client.get_job(second).file == second + ".sh"


def test_a_dag_the_broker_refuses_submits_nothing(broker_client, tmp_path):
    write_script(tmp_path, "a.sh", "true\n")
    job = unique_id("orphan")
    path = write_yaml(tmp_path, "name: x\njobs:\n  - {id: %s, script: a.sh, dependencies: [ghost]}\n" % job)
    with pytest.raises(InvalidError, match="unknown parent"):
        broker_client.submit_yaml(path)
    assert broker_client.get_job(job) is None


def test_a_wrong_file_is_refused_before_sending(broker_client, tmp_path):
    job = unique_id("typo")
    path = write_yaml(tmp_path, "name: x\njobs:\n  - id: %s\n    scrpt: a.sh\n" % job)
    with pytest.raises(PipelineError, match=r"pipeline.yaml:4: unknown key 'scrpt'"):
        broker_client.submit_yaml(path)
    assert broker_client.get_job(job) is None
