# The classification of duplicate starts (runs.py) on records written by hand: which copies ran after
# another, which beside one, and which of those docs/architecture.md allows.
from faults import BROKER_STOP, WORKER_KILL, WORKER_STOP, Fault
from runs import read_runs, reruns


def records(tmp_path, *lines):
    path = tmp_path / "j.runs"
    path.write_text("".join(line + "\n" for line in lines))
    return read_runs(path)


def fault(kind, target, start, end):
    return Fault(1, kind, target, end - start, start=start, end=end)


def render(found):
    return ["a%d on %s %s a%d on %s: %s%s" % (
        r.run.attempt, r.run.worker, "beside" if r.overlap else "after", r.previous.attempt, r.previous.worker,
        r.cause.kind if r.cause else "no fault", ", documented" if r.documented else "") for r in found]


def test_a_copy_killed_with_its_worker_and_run_again_is_a_sequential_rerun(tmp_path):
    runs = records(tmp_path, "start j 1 100 w1 10.0", "start j 2 200 w2 14.0", "done j 2 200 w2 15.0")
    assert render(reruns("j", runs, [fault(WORKER_KILL, "w1", 11.0, 12.0)])) == [
        "a2 on w2 after a1 on w1: worker kill -9"]


def test_a_copy_running_on_while_its_worker_is_stopped_is_the_documented_overlap(tmp_path):
    runs = records(tmp_path, "start j 1 100 w1 10.0", "overlap j 2 200 w2 15.0", "start j 2 200 w2 15.0",
                   "done j 1 100 w1 15.5", "done j 2 200 w2 16.0")
    assert render(reruns("j", runs, [fault(WORKER_STOP, "w1", 11.0, 17.0)])) == [
        "a2 on w2 beside a1 on w1: worker SIGSTOP, documented"]


def test_an_assignment_started_after_its_stopped_worker_runs_again_is_not_documented(tmp_path):
    runs = records(tmp_path, "start j 2 200 w2 15.0", "overlap j 1 100 w1 17.1", "start j 1 100 w1 17.1",
                   "done j 2 200 w2 18.0")
    found = reruns("j", runs, [fault(WORKER_STOP, "w1", 11.0, 17.0)])
    assert render(found) == ["a1 on w1 beside a2 on w2: worker SIGSTOP"]
    assert found[0].stale and "started after the broker had given the job away" in found[0].describe()


def test_an_overlap_no_fault_explains_is_not_documented(tmp_path):
    runs = records(tmp_path, "start j 1 100 w1 10.0", "overlap j 2 200 w2 11.0", "start j 2 200 w2 11.0")
    assert render(reruns("j", runs, [fault(BROKER_STOP, "broker", 10.5, 13.0)])) == [
        "a2 on w2 beside a1 on w1: broker SIGSTOP"]
    assert render(reruns("j", runs, [])) == ["a2 on w2 beside a1 on w1: no fault"]


def test_a_job_that_ran_once_has_no_rerun(tmp_path):
    assert reruns("j", records(tmp_path, "start j 1 100 w1 10.0", "done j 1 100 w1 11.0"), []) == []
