# Job control on real processes (docs/job-control.md): command jobs, uploads, work_dir, runtimes (a venv
# and an interpreter given with `titan worker --runtime`) and volumes, through the SDK and the CLI.
import os
import subprocess
import sys

import pytest

from cli import titan, titan_ok
from cluster import Cluster, unique_id, wait_until
from titan_sdk import InvalidError, TitanClient, TitanJob

DEADLINE_S = 60

# Prints what a job sees: its cwd relative to its job directory, its interpreter's prefix, its runtime.
PROBE = b"""import os, sys
print("cwd", os.path.relpath(os.getcwd(), os.environ["TITAN_JOB_DIR"]))
print("prefix", sys.prefix)
print("runtime", os.environ.get("TITAN_RUNTIME"))
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A real venv (no pip: it only has to be an environment) for the runtime `venvpy`."""
    path = tmp_path_factory.mktemp("runtime") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    site = next(path.glob("lib/python*/site-packages"))
    (site / "demo_pkg-1.2.dist-info").mkdir()  # an installed distribution, as pip leaves one
    (site / "demo_pkg-1.2.dist-info" / "METADATA").write_text("Name: demo-pkg\nVersion: 1.2\n")
    return path


@pytest.fixture(scope="module")
def payload_cluster(tmp_path_factory, venv):
    """w1 offers runtimes venvpy (a venv directory) and interp (an interpreter file); w2 none."""
    runtimes = ["--runtime", "venvpy=%s" % venv, "--runtime", "interp=%s" % sys.executable]
    c = Cluster(tmp_path_factory.mktemp("payloads"), workers=(("w1", runtimes), ("w2", []))).start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def client(payload_cluster, monkeypatch):
    for var in ("TITAN_HOST", "TITAN_PORT", "TITAN_TIMEOUT", "TITAN_JOB_ID"):
        monkeypatch.delenv(var, raising=False)
    with TitanClient(host="127.0.0.1", port=payload_cluster.port, timeout=10) as c:
        yield c


def run(client, job):
    """Submits `job`, waits for it to end; returns (state, its output, its JobInfo)."""
    client.submit_job(job)
    state = client.wait(job.job_id, timeout=DEADLINE_S)
    return state, client.fetch_logs(job.job_id), client.get_job(job.job_id)


def test_a_command_job_gets_its_arguments_exactly(client):
    job = TitanJob(unique_id("printf"), command="printf", argv=["[%s]\\n", "a b", "  two  spaces", "$HOME", "it's"])
    state, out, info = run(client, job)
    assert state == "COMPLETED", info.reason
    assert out == "[a b]\n[  two  spaces]\n[$HOME]\n[it's]\n"
    assert (info.command, info.argv, info.file) == ("printf", ["[%s]\\n", "a b", "  two  spaces", "$HOME", "it's"], "")


def test_the_cli_runs_a_command_and_status_shows_it(payload_cluster, client):
    job_id = unique_id("echo")
    out = titan_ok(payload_cluster.port, ["run", "--id", job_id, "--wait", "--command", "echo", "--", "hello",
                                          "a  b"])
    assert out == job_id + "\nhello a  b\n"
    status = titan_ok(payload_cluster.port, ["status", job_id])
    assert "command:    echo hello 'a  b'\n" in status


def test_a_missing_command_fails_with_the_reason(client):
    state, _, info = run(client, TitanJob(unique_id("nosuch"), command="no-such-program-here"))
    assert state == "FAILED"
    assert "command 'no-such-program-here' was not found on the worker's PATH" in info.reason


def test_uploads_land_with_their_modes_and_work_dir_is_the_cwd(client):
    check = (b"import os, stat\n"
             b"for p in ('../bin/tool.sh', 'data.txt', 'private'):\n"
             b"    print(p, oct(stat.S_IMODE(os.stat(p).st_mode)), open(p).read().strip())\n"
             b"print('cwd', os.path.relpath(os.getcwd(), os.environ['TITAN_JOB_DIR']))\n")
    job = TitanJob(unique_id("uploads"), command="python3", argv=["check.py"], work_dir="run/here", uploads=[
        {"path": "run/here/check.py", "content": check},
        {"path": "run/bin/tool.sh", "content": b"echo tool\n", "mode": 0o750},
        {"path": "run/here/data.txt", "content": "text data"},
        {"path": "run/here/private", "content": b"s3cret", "mode": 0o600},
    ])
    state, out, info = run(client, job)
    assert state == "COMPLETED", (info.reason, out)
    assert out.splitlines() == ["../bin/tool.sh 0o750 echo tool", "data.txt 0o644 text data", "private 0o600 s3cret",
                                "cwd run/here"]
    assert info.work_dir == "run/here"


def test_an_upload_outside_the_job_directory_is_refused(client):
    with pytest.raises(InvalidError, match=r"upload '\.\./escape' leaves the job directory"):
        client.submit_job(TitanJob(unique_id("escape"), command="true",
                                   uploads=[{"path": "../escape", "content": b"x"}]))
    with pytest.raises(InvalidError, match="work_dir '/tmp' is absolute"):
        client.submit_job(TitanJob(unique_id("abs"), command="true", work_dir="/tmp"))


def test_a_py_upload_runs_with_the_venv_runtime(client, venv):
    job = TitanJob(unique_id("venv"), command="python", argv=["probe.py"], runtime="venvpy",
                   uploads=[{"path": "probe.py", "content": PROBE}])
    state, out, info = run(client, job)
    assert state == "COMPLETED", (info.reason, out)
    assert out == "cwd .\nprefix %s\nruntime venvpy\n" % venv
    assert info.worker == "w1" and info.runtime == "venvpy"


def test_a_runtimes_bin_comes_first_on_the_jobs_path(client, venv):
    job = TitanJob(unique_id("which"), command="sh", argv=["-c", 'command -v python3; echo "$VIRTUAL_ENV"'],
                   runtime="venvpy")
    state, out, info = run(client, job)
    assert state == "COMPLETED", (info.reason, out)
    assert out == "%s/bin/python3\n%s\n" % (venv, venv)


def test_a_py_script_runs_with_the_interpreter_runtime(client, tmp_path):
    script = tmp_path / "probe.py"
    script.write_bytes(PROBE)
    state, out, info = run(client, TitanJob(unique_id("interp"), str(script), runtime="interp"))
    assert state == "COMPLETED", (info.reason, out)
    assert out == "cwd .\nprefix %s\nruntime interp\n" % sys.prefix


def test_the_workers_runtimes_are_listed(payload_cluster, client):
    runtimes = {r["name"]: r for r in client.runtimes.list_runtimes()}
    assert sorted(runtimes) == ["interp", "venvpy"]
    assert runtimes["venvpy"]["workers"] == ["w1"] and runtimes["venvpy"]["available"]
    interp = client.runtimes.get_runtime_info("interp")["runtime"]
    assert interp["name"] == "interp"
    assert interp["size_bytes"] == os.path.getsize(os.path.realpath(sys.executable)) and interp["packages"] == []
    # An environment: the bytes of its files (as the worker counted them) and its distributions.
    assert runtimes["venvpy"]["packages"] == ["demo_pkg==1.2"]
    assert 0 < runtimes["venvpy"]["size_bytes"] < 1 << 30
    stats = titan_ok(payload_cluster.port, ["stats"])
    assert "runtimes: interp, venvpy" in stats


def test_a_volume_keeps_data_across_jobs_and_a_worker_restart(payload_cluster, client, tmp_path):
    name = unique_id("data")
    vol = client.volumes.create_volume(name, "10MB", worker="w2")
    assert (vol["worker"], vol["size"], vol["type"], vol["job_count"]) == ("w2", "10MB", "filesystem", 0)
    assert vol["path"] == str(payload_cluster.root / "w2" / "volumes" / name)
    env = "TITAN_VOLUME_" + name.upper().replace("-", "_")
    write = TitanJob(unique_id("write"), command="sh", volumes=["%s:/data" % name], argv=[
        "-c", 'echo first > "$%s/a.txt" && echo second > data/b.txt' % env])
    state, out, info = run(client, write)
    assert state == "COMPLETED", (info.reason, out)
    assert info.worker == "w2"  # w1 is as free, but the volume is on w2
    read = TitanJob(unique_id("read"), command="cat", argv=["data/a.txt", "data/b.txt"],
                    volumes=["%s:/data" % name])
    assert run(client, read)[:2] == ("COMPLETED", "first\nsecond\n")

    payload_cluster.crash_and_restart_worker("w2")
    again = TitanJob(unique_id("again"), command="cat", argv=["mnt/v/a.txt"], volumes=["%s:/mnt/v" % name])
    assert run(client, again)[:2] == ("COMPLETED", "first\n")
    listed = titan_ok(payload_cluster.port, ["volume", "list"])
    assert name in listed and "w2" in listed


def test_a_volume_in_use_cannot_be_removed_until_its_job_ends(payload_cluster, client):
    name = unique_id("busy")
    vol = client.volumes.create_volume(name, worker="w1")
    release = os.path.join(vol["path"], "release")
    env = "TITAN_VOLUME_" + name.upper().replace("-", "_")
    # The job waits (up to 60 s) for the test to release it: a state the test controls, not a sleep.
    holder = TitanJob(unique_id("holder"), command="sh", volumes=["%s:/v" % name], argv=[
        "-c", 'for i in $(seq 600); do [ -e "$%s/release" ] && exit 0; sleep 0.1; done; exit 1' % env])
    client.submit_job(holder)
    wait_until("the holder to run", lambda: client.get_job(holder.job_id).state == "RUNNING", DEADLINE_S)
    refused = client.volumes.remove_volume(name)
    assert refused["success"] is False and "in use by unfinished jobs: %s" % holder.job_id in refused["message"]
    assert [v["job_count"] for v in client.volumes.list_volumes() if v["name"] == name] == [1]
    # RUNNING is published when the broker assigns the job; the worker makes the volume's directory when the
    # volume (or the job) reaches it, a moment later.
    wait_until("the worker to make the volume's directory", lambda: os.path.isdir(vol["path"]), DEADLINE_S)
    open(release, "w").close()
    assert client.wait(holder.job_id, timeout=DEADLINE_S) == "COMPLETED"
    removed = titan(payload_cluster.port, ["volume", "rm", name])
    assert removed.returncode == 0, removed.stderr
    assert name not in [v["name"] for v in client.volumes.list_volumes()]
    wait_until("the worker to delete the volume's directory", lambda: not os.path.exists(vol["path"]), DEADLINE_S)


def test_a_job_naming_an_unknown_volume_is_refused(client):
    with pytest.raises(InvalidError, match="volume 'nope' does not exist; create it first"):
        client.submit_job(TitanJob(unique_id("lost"), command="true", volumes=["nope:/data"]))
    bad = titan(0, ["volume", "create", "x", "--type", "tape"])
    assert bad.returncode != 0


def test_the_cli_creates_lists_and_removes_a_volume(payload_cluster, client):
    name = unique_id("cli")
    created = titan_ok(payload_cluster.port, ["volume", "create", name, "--worker", "w1"])  # no --type, no --size
    assert name in created and "filesystem" in created
    assert [v["type"] for v in client.volumes.list_volumes() if v["name"] == name] == ["filesystem"]
    assert titan_ok(payload_cluster.port, ["volume", "rm", name]) == "removed volume %s and its data\n" % name
    missing = titan(payload_cluster.port, ["volume", "rm", name])
    assert missing.returncode != 0 and "no volume '%s'" % name in missing.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only a worker running as root mounts a tmpfs for a memory volume")
def test_a_memory_volume_is_a_tmpfs_of_its_size(payload_cluster, client):
    name = unique_id("fast")
    vol = client.volumes.create_volume(name, "1MB", "memory", worker="w1")
    env = "TITAN_VOLUME_" + name.upper().replace("-", "_")
    # Where the worker could not mount one (no CAP_SYS_ADMIN) it logs that the size is not enforced.
    probe = TitanJob(unique_id("df"), command="sh", volumes=["%s:/fast" % name],
                     argv=["-c", 'stat -f -c %%T "$%s"' % env])
    state, out, _ = run(client, probe)
    if out.strip() != "tmpfs":
        pytest.skip("this machine does not let the worker mount a tmpfs: %r" % out)
    fill = TitanJob(unique_id("fill"), command="sh", volumes=["%s:/fast" % name],
                    argv=["-c", 'head -c 2097152 /dev/zero > "$%s/big"' % env])
    state, out, info = run(client, fill)
    assert state == "FAILED" and "No space left on device" in out, (state, out, info.reason)
    assert client.volumes.remove_volume(name)["success"]
    wait_until("the tmpfs to be unmounted and removed", lambda: not os.path.exists(vol["path"]), DEADLINE_S)
