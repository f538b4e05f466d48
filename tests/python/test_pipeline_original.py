# Pipelines in the original SDK's spelling on a real cluster (store, broker, workers w1 and w2): with
# `project: true` the YAML file's folder is zipped and deployed as perm_files/<name>.zip and each `file`
# job runs inside the unpacked project, through the SDK (submit_yaml) and the CLI (`titan submit`,
# `titan schedule add`); with `project: false` the same file runs with its scripts sent inline. The two
# jobs read the project's data file; the first passes its result to the second through TitanStore.
import json
import textwrap
import zipfile

from cli import titan, titan_ok
from cluster import unique_id
from titan_sdk.pipeline import project_zip_name

DEADLINE_S = 60

COUNT = """
    import os
    from titan_sdk import TitanClient

    path = os.path.join("data", "numbers.txt")  # relative to the job's folder: the unpacked project
    if os.path.exists(path):
        numbers = [int(word) for word in open(path).read().split()]
        print("count: %d numbers, total %d" % (len(numbers), sum(numbers)))
    else:
        numbers = []
        print("count: no %s here" % path)
    TitanClient().store_put(os.environ["RESULT_KEY"], str(sum(numbers)))
"""

REPORT = """
    import os
    from titan_sdk import TitanClient

    total = int(TitanClient().store_get(os.environ["RESULT_KEY"]))
    path = os.path.join("data", "label.txt")
    label = open(path).read().strip() if os.path.exists(path) else "(no project)"
    print("report: %s total %d" % (label, total))
"""

PIPELINE = """
    version: "1.0"
    name: {name}
    project: {project}
    jobs:
      - id: {count}
        type: run
        file: steps/count.py
        env: {{RESULT_KEY: "{key}"}}
      - id: {report}
        file: ./steps/report.py
        depends_on: [{count}]
        env: {{RESULT_KEY: "{key}"}}
"""


class Project:
    """A pipeline folder: the YAML, two steps and their data, with ids no other test uses."""

    def __init__(self, folder, project=True):
        self.name = unique_id("Nightly Report")  # the space becomes '_' in the zip's name
        self.zip = project_zip_name(self.name)
        self.count, self.report = unique_id("COUNT"), unique_id("REPORT")
        for rel, text in (("steps/count.py", COUNT), ("steps/report.py", REPORT),
                          ("data/numbers.txt", "10 20\n30\n"), ("data/label.txt", "nightly\n")):
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(textwrap.dedent(text).lstrip())
        self.path = folder / "pipeline.yaml"
        self.path.write_text(textwrap.dedent(PIPELINE).lstrip().format(
            name=self.name, project="true" if project else "false", count=self.count, report=self.report,
            key=unique_id("result")))


def perm_files(client):
    return {a["name"] for a in client.list_artifacts("perm_files")}


def assert_ran_from_the_project(client, project):
    assert client.fetch_logs(project.count) == "count: 3 numbers, total 60\n"
    assert client.fetch_logs(project.report) == "report: nightly total 60\n"
    assert client.get_job(project.count).file == project.zip + "/steps/count.py"
    assert client.get_job(project.report).parents == [project.count]
    assert project.zip in perm_files(client)


def test_sdk_submit_yaml_deploys_the_project_and_runs_its_files(broker_client, tmp_path):
    project = Project(tmp_path)
    dag = broker_client.submit_yaml(project.path, wait=True, timeout=DEADLINE_S)
    assert (dag["id"], dag["state"], dag["done"]) == (project.name, "COMPLETED", 2), \
        [(j.id, j.state, j.reason) for j in dag["jobs"]]
    assert_ran_from_the_project(broker_client, project)
    zip_path = tmp_path.parent / project.zip
    assert broker_client.download_artifact(project.zip, zip_path, "perm_files") is not None
    with zipfile.ZipFile(zip_path) as zf:
        assert sorted(zf.namelist()) == ["data/", "data/label.txt", "data/numbers.txt", "pipeline.yaml", "steps/",
                                         "steps/count.py", "steps/report.py"]


def test_cli_submit_wait_deploys_the_project_and_runs_its_files(cluster, broker_client, tmp_path):
    project = Project(tmp_path)
    proc = titan(cluster.port, ["submit", str(project.path), "--wait"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dag: %s\n" % project.name in proc.stdout
    assert "uploaded perm_files/%s (project %s): " % (project.zip, tmp_path) in proc.stderr  # stdout stays the DAG's
    assert_ran_from_the_project(broker_client, project)
    listed = json.loads(titan_ok(cluster.port, ["artifacts", "--space", "perm_files", "--json"]))
    assert project.zip in {a["name"] for a in listed}


def test_with_project_false_the_same_file_runs_with_its_scripts_sent_inline(broker_client, tmp_path):
    project = Project(tmp_path, project=False)
    dag = broker_client.submit_yaml(project.path, wait=True, timeout=DEADLINE_S)
    assert (dag["state"], dag["done"]) == ("COMPLETED", 2), [(j.id, j.state, j.reason) for j in dag["jobs"]]
    assert broker_client.fetch_logs(project.count) == "count: no data/numbers.txt here\n"
    assert broker_client.fetch_logs(project.report) == "report: (no project) total 0\n"
    assert broker_client.get_job(project.count).file == "count.py"
    assert project.zip not in perm_files(broker_client)


def test_cli_schedule_add_deploys_the_project_too(cluster, broker_client, tmp_path):
    project = Project(tmp_path)
    schedule = unique_id("nightly")
    titan_ok(cluster.port, ["schedule", "add", schedule, "0 3 1 1 *", str(project.path)])
    try:
        assert project.zip in perm_files(broker_client)
        assert [s["jobs"] for s in broker_client.list_schedules() if s["name"] == schedule] == [2]
    finally:
        titan_ok(cluster.port, ["schedule", "rm", schedule])


def test_a_wrong_file_is_refused_naming_its_line_before_anything_is_uploaded(cluster, broker_client, tmp_path):
    project = Project(tmp_path)
    text = project.path.read_text().replace("file: ./steps/report.py", "file: ../report.py")
    project.path.write_text(text)
    proc = titan(cluster.port, ["submit", str(project.path)])
    assert proc.returncode == 2, proc.stderr
    assert "pipeline.yaml:10: 'file' '../report.py' leads outside the YAML file's folder" in proc.stderr
    assert project.zip not in perm_files(broker_client)
    assert broker_client.get_job(project.count) is None
