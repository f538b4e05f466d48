# The TitanClient calls for DAGs, agent runs, human-in-the-loop gates, schedules and YAML pipelines,
# kept apart from client.py (jobs, logs, TitanStore). A mixin: TitanClient provides _broker_call,
# _submit, _submit_plan, wait and _job_watch, and every method here is as thread-safe as those.
import getpass
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Union

from . import pipeline
from .brokers import new_token
from .errors import InvalidError, TitanTimeoutError
from .job import FINAL_STATES, JobInfo, TitanJob
from .job_watch import JobWatch, Waiter
from .protocol import MsgType
from .schema import STRUCTS
from .submission import plan_submit

_DAG_FIELDS = tuple(f.name for f in STRUCTS["DagInfo"])
_SCHEDULE_FIELDS = tuple(f.name for f in STRUCTS["ScheduleInfo"])


def _record(fields: Dict[str, Any], names: Sequence[str]) -> Dict[str, Any]:
    """A wire struct as a dict with every field of the schema (absent optional ones as None)."""
    return {name: fields.get(name) for name in names}


def _user() -> Optional[str]:
    try:
        return getpass.getuser()
    except Exception:  # no login name (e.g. a container user without a passwd entry): the broker says "unknown"
        return None


def _await_events(watch: JobWatch, w: Waiter, waiting: List[JobInfo], until: float) -> None:
    """Returns once events say every job in `waiting` has ended (or, a SERVICE, is running: get_dag tells
    whether it is up), or at the monotonic time `until`: the DAG is then looked at again."""
    pending = {j.id: j for j in waiting}
    if not pending:  # nothing to wait for yet the DAG runs on: look again at `until`, not at once
        watch.next_events(w, until)
    while pending and time.monotonic() < until and not watch.closed:
        events = watch.next_events(w, until)
        if not events:
            return  # `until`, or the feed was lost or moved: look at the DAG now
        for job_id, (state, ts_ms) in events:
            job = pending.get(job_id)
            if job is None or ts_ms < job.submitted_ms:
                continue  # not waited for, or an earlier run of a reused id delivered late
            if state in FINAL_STATES or (job.job_type == "SERVICE" and state == "RUNNING"):
                del pending[job_id]


class DagCalls:
    """DAG, run, gate, schedule and pipeline calls of TitanClient.

    A DAG is reported as a dict with the protocol's DagInfo fields: id, name, state (RUNNING COMPLETED
    FAILED CANCELLED), agent_run_id, jobs, done, failed (jobs that ended other than COMPLETED),
    submitted_ms, finished_ms. get_dag() and wait_dag() replace the "jobs" count with the JobInfo list.
    """

    # ---- human-in-the-loop gates ---------------------------------------------------------------------

    def approve(self, gate_id: str, by: Optional[str] = None) -> str:
        """Approves the gate "hitl-gate-<job id>": its children may run. `by` (default: your login name) is
        recorded as the gate's decided_by; on a cluster with keys the broker records your key's principal,
        with `by` beside it when it names someone else ("olivia (as root)"). Returns the gate's state
        (COMPLETED). Raises InvalidError when there is no such gate or it is not waiting for a decision (its
        job still runs, or it was decided)."""
        return self._decide(gate_id, True, None, by)

    def reject(self, gate_id: str, reason: Optional[str] = None, by: Optional[str] = None) -> str:
        """Rejects the gate: it FAILS with "rejected by <by>: <reason>" and its descendants are SKIPPED.
        Returns the gate's state (FAILED). Raises InvalidError as approve() does."""
        return self._decide(gate_id, False, reason, by)

    def _decide(self, gate_id: str, approve: bool, reason: Optional[str], by: Optional[str]) -> str:
        reply = self._broker_call(MsgType.GATE_DECIDE, id=gate_id, approve=approve, reason=reason,
                                  by=by if by is not None else _user())
        return reply.fields["job"]["state"]

    # ---- DAGs and agent runs ---------------------------------------------------------------------------

    def list_dags(self, agent_run_id: Optional[str] = None, limit: int = 100) -> List[Dict[str, Any]]:
        """DAGs, newest first, at most `limit`; only those of the agent run `agent_run_id` when given."""
        reply = self._broker_call(MsgType.DAG_LIST, agent_run_id=agent_run_id or None, limit=int(limit))
        return [_record(d, _DAG_FIELDS) for d in reply.fields["dags"]]

    def get_dag(self, dag_id: str) -> Optional[Dict[str, Any]]:
        """The DAG (DagInfo fields) with "jobs": the JobInfo of each of its jobs and gates, in submission
        order; None when the broker knows no such DAG. DAG ids are the names given at submission, or
        "name#N" when the name was used before (client.last_dag holds the id of your latest one)."""
        return self._dag_reply(self._broker_call(MsgType.DAG_GET, id=dag_id).fields)

    def cancel_dag(self, dag_id: str) -> Dict[str, Any]:
        """Stops every unfinished job of the DAG: waiting ones are CANCELLED at once, running ones once
        their process has ended (wait_dag() for that). Returns the DAG as get_dag() does. Raises
        InvalidError for an unknown DAG."""
        return self._dag_reply(self._broker_call(MsgType.DAG_CANCEL, id=dag_id).fields)

    def rerun_dag(self, dag_id: str) -> str:
        """Submits the jobs of a finished DAG again (the specs and scripts they ran with; gates come back too)
        as a new DAG of the same name, and returns its id ("name#N"). Each job id starts its next run.
        Raises InvalidError for an unknown DAG or one that has not finished (cancel_dag first). Sent with a
        token, so a rerun nothing answered is sent again and still reruns the DAG once."""
        reply = self._broker_call(MsgType.DAG_RERUN, id=dag_id, token=new_token()).fields
        self.last_dag = reply.get("dag")
        return reply.get("dag")

    def wait_dag(self, dag_id: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Blocks until the DAG is done and returns it as get_dag() does: every job has ended (a gate waits
        for its decision or its deadline) and every SERVICE is up — services keep running afterwards
        (`titan services`). Check the DAG's "state" (COMPLETED FAILED CANCELLED). TitanTimeoutError when
        `timeout` seconds pass first.

        Driven by the client's event subscription, as wait() is: it follows the events of the DAG's jobs and
        asks the broker for the DAG (DAG_GET) only when they say the jobs it waits for are done, or every
        job_watch.RECHECK_S seconds without such news (events can be lost)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        watch = self._job_watch()
        w = None  # registered for the DAG's jobs once they are known; the next get_dag closes the race
        interval: Optional[float] = None
        try:
            while True:
                dag = self.get_dag(dag_id)
                watch.follow()  # get_dag found the leader: the feed follows it
                if dag is None:
                    raise self._no_dag(dag_id)
                if dag["state"] != "RUNNING":
                    return dag
                if w is None:
                    w = watch.register(j.id for j in dag["jobs"])
                    continue
                watch.add(w, (j.id for j in dag["jobs"]))
                waiting = [j for j in dag["jobs"] if j.state not in FINAL_STATES and not
                           (j.job_type == "SERVICE" and j.ready)] or [j for j in dag["jobs"] if not j.is_final]
                if deadline is not None and time.monotonic() >= deadline:
                    raise TitanTimeoutError("DAG %r still has %d unfinished jobs (%s) after %g s"
                                            % (dag_id, len(waiting), ", ".join(j.id for j in waiting[:5]), timeout))
                interval = watch.recheck_interval(interval)
                until = time.monotonic() + interval
                _await_events(watch, w, waiting, until if deadline is None else min(until, deadline))
        finally:
            if w is not None:
                watch.unregister(w)

    def list_runs(self, limit: int = 100) -> List[Dict[str, Any]]:
        """Agent runs, newest first: one DagInfo-shaped dict per run, id = the run id, its counts and
        state over all the run's DAGs."""
        reply = self._broker_call(MsgType.RUN_LIST, limit=int(limit))
        return [_record(r, _DAG_FIELDS) for r in reply.fields["runs"]]

    def get_run(self, run_id: str) -> Optional[Dict[str, Any]]:
        """The agent run as list_runs() reports it, plus "dags": each of its DAGs as get_dag() returns it,
        oldest first. None when no DAG was submitted with this agent_run_id."""
        run = next((r for r in self.list_runs(limit=10000) if r["id"] == run_id), None)
        if run is None:
            return None
        dags = [self.get_dag(d["id"]) for d in reversed(self.list_dags(agent_run_id=run_id, limit=10000))]
        run["dags"] = [d for d in dags if d is not None]
        return run

    def _dag_reply(self, fields: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        if not fields["found"]:
            return None
        dag = _record(fields["dag"], _DAG_FIELDS)
        dag["jobs"] = [JobInfo.from_wire(j) for j in fields["jobs"]]
        return dag

    @staticmethod
    def _no_dag(dag_id: str) -> InvalidError:
        return InvalidError("no DAG %r; list_dags() shows the DAGs" % dag_id)

    # ---- schedules ------------------------------------------------------------------------------------

    def add_schedule(self, name: str, cron: str, jobs: Sequence[TitanJob],
                     dag_name: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """Runs `jobs` (files read, or deployed, now, as submit_dag does) as DAG "<dag_name>@<YYYYmmddTHHMMZ>"
        (`dag_name` defaults to the schedule's name) at each tick of `cron` (five fields, UTC: minute hour
        day-of-month month day-of-week), job ids suffixed "@<YYYYmmddTHHMMZ>". Replaces a schedule of the
        same name. Returns it as list_schedules() does. Raises InvalidError (with the broker's reason) for
        a bad cron expression or name."""
        plan = plan_submit(jobs, None, None)
        self._submit_plan(plan, lambda: self._broker_call(MsgType.SCHEDULE_ADD, name=name, cron=cron,
                                                          jobs=plan.fields["jobs"], files=plan.fields["files"],
                                                          dag=dag_name))
        return next((s for s in self.list_schedules() if s["name"] == name), None)

    def list_schedules(self) -> List[Dict[str, Any]]:
        """Every schedule: name, cron, jobs (how many), next_ms (when it fires next, Unix epoch ms), last_ms
        (when it last fired, None if never) and enabled (False: disabled with enable_schedule)."""
        reply = self._broker_call(MsgType.SCHEDULE_LIST)
        return [_record(s, _SCHEDULE_FIELDS) for s in reply.fields["schedules"]]

    def enable_schedule(self, name: str, enabled: bool = True) -> bool:
        """Enables (or, with enabled=False, disables) the schedule: a disabled one keeps its definition and does
        not fire; enabled again, it fires from its next tick (ticks it missed are not owed). Returns True;
        InvalidError when there is no schedule of that name."""
        self._broker_call(MsgType.SCHEDULE_ENABLE, name=name, enabled=bool(enabled))
        return True

    def remove_schedule(self, name: str) -> bool:
        """Removes the schedule (DAGs it already submitted keep running). Returns True; InvalidError when
        there is no schedule of that name."""
        self._broker_call(MsgType.SCHEDULE_REMOVE, name=name)
        return True

    # ---- YAML pipelines -------------------------------------------------------------------------------

    def submit_yaml(self, path: Union[str, os.PathLike], wait: bool = False,
                    timeout: Optional[float] = None) -> Union[str, Dict[str, Any]]:
        """Submits the pipeline file at `path` (Titan or Joblet format, docs/pipelines.md) as one DAG.

        Jobs given with `file` (the original SDK's spelling) run from the project: unless the file says
        `project: false`, the YAML file's folder is zipped and deployed first as perm_files/<name>.zip
        (uploaded only when the broker does not hold that content under that name already).

        Returns the DAG id; with `wait`, blocks until every job has ended and returns the DAG as
        wait_dag() does (check its "state"). Raises PipelineError ("<file>:<line>: <what>") for a wrong
        file, before anything is sent; TitanError when the project folder cannot be zipped (a link
        leading outside it, more than a worker unpacks); InvalidError when the broker refuses the DAG (a
        cycle, an unknown parent, a duplicate id).
        """
        return self._submit_pipeline(pipeline.parse(path), wait, timeout)

    def submit_yaml_text(self, text: str, folder: Union[str, os.PathLike] = ".", wait: bool = False,
                         timeout: Optional[float] = None) -> Union[str, Dict[str, Any]]:
        """Submits a pipeline given as YAML text, as submit_yaml() submits a file in `folder` (default: the current
        directory): its scripts are read from there, and it is the project of `file` jobs. Returns and raises
        as submit_yaml() does; a PipelineError names the text "(pipeline text)"."""
        return self._submit_pipeline(pipeline.parse_text(text, folder), wait, timeout)

    def _submit_pipeline(self, submission: pipeline.Submission, wait: bool,
                         timeout: Optional[float]) -> Union[str, Dict[str, Any]]:
        if submission.project is not None:
            self._put_project(submission.project.folder, submission.project.name, only_if_changed=True)
        dag_id = self._submit(submission.submit_fields())[1]
        return self.wait_dag(dag_id, timeout) if wait else dag_id
