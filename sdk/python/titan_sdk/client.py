# TitanClient: the SDK's entry point. The user names only the broker (or a lone store). Job and artifact
# calls go to the broker; on the first store call the client says HELLO there, learns from WELCOME where
# TitanStore (and the event feed) listens, and talks to the store directly.
# Thread-safe (one lock per client) and fork-safe (a child process reconnects on its own sockets).
import datetime
import hashlib
import os
import threading
import time
import weakref
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import __version__, logs
from .artifacts import ArtifactCalls
from .dags import DagCalls
from .job_list import JobListCalls
from .store import StoreCalls
from .joblet_jobs import JobService
from .monitoring import MonitoringService
from .errors import (InvalidError, JobNotFoundError, NoReplyError, NotFoundError, NotLeaderError, TitanError,
                     TitanTimeoutError, UnavailableError, UnknownTypeError)
from .job import FINAL_STATES, JobInfo, TitanJob
from .messages import AuditEntry, MetricFamily, WorkerInfo
from .protocol import Decoded, MsgType
from .runtimes import RuntimeService
from .volumes import VolumeService
from .submission import SubmitPlan, plan_submit
from .credentials import Credential, find_credential
from .transport import Connection
from .brokers import BrokerList, new_token, parse_address
from .schema import MESSAGE_SPECS
from .async_submit import DEFAULT_BATCH, DEFAULT_WINDOW, SubmitHandle, Submitter
from .job_watch import JobWatch

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9090
DEFAULT_TIMEOUT = 10.0


def _env_number(name: str, kind: type, default: Any) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValueError("%s=%r is not a valid %s" % (name, raw, kind.__name__)) from None


def _service_up(job: Dict[str, Any]) -> bool:
    return job.get("job_type") == "SERVICE" and job["state"] == "RUNNING" and bool(job.get("ready"))


def _epoch_ms(when: Union[float, datetime.datetime, datetime.timedelta]) -> int:
    """Unix epoch milliseconds of a datetime (naive: local time), a timedelta before now, or epoch seconds."""
    if isinstance(when, datetime.timedelta):
        return int((time.time() - when.total_seconds()) * 1000)
    if isinstance(when, datetime.datetime):
        return int(when.timestamp() * 1000)
    if isinstance(when, (int, float)) and not isinstance(when, bool):
        return int(when * 1000)
    raise TypeError("since must be a datetime, a timedelta or Unix epoch seconds; got %s" % type(when).__name__)


_TAKEOVER_RETRY_S = 0.2  # a standby that names no leader is taking over: asked again this much later


def _tcp(host: str, port: int) -> str:
    return "tcp://[%s]:%d" % (host, port) if ":" in host else "tcp://%s:%d" % (host, port)


class TitanClient(StoreCalls, DagCalls, ArtifactCalls, JobListCalls):
    """A connection to a Titan cluster: jobs and logs here; TitanStore in StoreCalls (store.py); DAGs, agent
    runs, approval gates, schedules and YAML pipelines in DagCalls (dags.py); file artifacts (upload_file, deploy_script,
    upload_project_folder, publish_artifact, get_artifact, fetch_artifact, list_artifacts,
    delete_artifact) in ArtifactCalls (artifacts.py).

    `TitanClient()` reads TITAN_HOST / TITAN_PORT (default 127.0.0.1:9090) and TITAN_TIMEOUT (seconds,
    default 10); `TitanClient(host="localhost", port=9090)` names the broker explicitly. Brokers sharing a
    PostgreSQL journal are all named: `host="a,b"` or TITAN_HOST=a,b (host:port entries allowed). A call a
    standby answers NOT_LEADER goes to the leader it names (the request was not applied); a read nothing
    answers goes to the next broker. A submission (submit_job, submit_dag, submit_async, submit_many, YAML
    pipelines, rerun_dag) carries a token of its own, so one nothing answered is sent again, with the same
    token, to the next broker until a broker answers or the timeout has passed once per broker plus once: a
    broker that accepted it already answers with that first acceptance and submits nothing. Any other write
    nothing answered, and anything nothing answered when only one broker is named, raises NoReplyError (it
    may have been applied: get_job tells) and the next call goes to the next broker. The paths with
    connections of their own follow too: submit_async's pipeline, the event feed of wait()/wait_dag() and
    stream_logs (docs/operations.md, "Which client paths follow the leader"). `host`/`port` name the broker in
    use. Inside a job,
    the worker sets TITAN_HOST/TITAN_PORT, so `TitanClient()` reaches the broker that runs it. Every
    call raises TitanTimeoutError when nothing answers within `timeout` (wait() waits longer), and a
    TitanNodeError subclass (InvalidError, TooLargeError, WrongTypeError, ...) when the node refuses
    the request.

    `credentials` names a credential file (or is a Credential, credentials.parse_credential) for a cluster
    with CURVE on (credentials.py: else
    TITAN_CREDENTIALS, else the one `titan up` linked for this host and port); a refused credential raises
    AuthenticationError, a request its role does not allow ForbiddenError. An admin reads the audit log
    with audit().
    """

    def __init__(self, host: Optional[str] = None, port: Optional[int] = None, timeout: Optional[float] = None,
                 credentials: Union[str, Credential, None] = None):
        hosts = host or os.environ.get("TITAN_HOST", "").strip() or DEFAULT_HOST
        self._brokers = BrokerList(hosts, int(port) if port is not None else _env_number("TITAN_PORT", int,
                                                                                          DEFAULT_PORT))
        self.host, self.port = self._brokers.current
        self._silent: Dict[Tuple[str, int], float] = {}  # broker -> when it last left a request unanswered
        self.timeout = float(timeout) if timeout is not None else _env_number("TITAN_TIMEOUT", float,
                                                                               DEFAULT_TIMEOUT)
        if self.timeout <= 0:
            raise ValueError("timeout must be positive seconds; got %r" % self.timeout)
        self.endpoint = _tcp(self.host, self.port)
        # Who this client is to a cluster with CURVE on: credentials.py says where it is found.
        self.credential: Optional[Credential] = find_credential(credentials, self.host, self.port)
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._closed = False
        self._entry = Connection(self.endpoint, self._hint(), self.credential, self._use_credential)
        self._watch: Optional[JobWatch] = None  # wait()'s event feed, made on the first wait
        self._submitter = Submitter(self)  # submit_async's pipelined connection
        self.submit_window = DEFAULT_WINDOW  # submissions submit_async/submit_many keep in flight at once
        self._store: Optional[Connection] = None  # found by discovery, then cached
        self._welcome: Optional[Dict[str, Any]] = None  # the entry node's WELCOME, cached with _store
        # Job file bytes the broker accepted from this client -> their SHA-256: sent again by hash only.
        self._sent_files: Dict[bytes, str] = {}
        self.last_dag: Optional[str] = None  # the DAG id the broker gave this client's latest submission

    # ---- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the sockets and stops the event thread (waits still running raise TitanError). Answers to
        submit_async() still due are read first. Idempotent; calls afterwards raise TitanError."""
        if not self._closed:
            self._submitter.close()  # outside the client lock: reading an answer takes it
        with self._locked():
            self._closed = True
            watch, self._watch = self._watch, None
            if self._store is not None and self._store is not self._entry:
                self._store.close()
            self._entry.close()
            self._store, self._welcome = None, None
        if watch is not None:
            watch.close()

    def __enter__(self) -> "TitanClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "TitanClient(host=%r, port=%d, timeout=%g)" % (self.host, self.port, self.timeout)

    @property
    def store_endpoint(self) -> str:
        """Where TitanStore listens (discovers it on first use)."""
        with self._locked():
            return self._store_connection().endpoint

    # ---- jobs ----------------------------------------------------------------------------------------

    def submit_job(self, job: TitanJob) -> str:
        """Submits one job (a one-job DAG) and returns its id. See submit_dag for files and errors."""
        return self.submit_dag(None, [job])[0]

    def submit_dag(self, name: Optional[str], jobs: Sequence[TitanJob],
                   agent_run_id: Optional[str] = None) -> List[str]:
        """Submits `jobs` as one DAG named `name` and returns the ids the broker created, in order: the
        jobs, then a gate "hitl-gate-<id>" for each job with a `hitl_message`. All or nothing. The DAG's
        id (`name`, or "name#N" when the name was used before) is then in `client.last_dag`.

        Each job's `filename` is read on this machine (absolute, or relative to the current directory)
        and sent once per distinct file; the worker runs it under its basename. A filename that does not
        exist here names a script deployed earlier (deploy_script) by its basename. Scripts too big to
        travel with the submission (~4 MiB together) are deployed to perm_files first, under their basename.
        An archive job (is_archive=True) names "<project>.zip/<entry>": a local <project>.zip is uploaded
        to perm_files as its basename first (unless the broker holds that content already); otherwise the
        project must have been deployed (upload_project_folder). `parents` may name jobs of this
        submission or earlier ones. `agent_run_id` links several submissions into one run.

        Raises JobFileNotFoundError when a job's file is neither here nor deployed, InvalidError (with the
        broker's reason) for a duplicate or existing id, an unknown parent or a cycle. Files are deployed
        before the jobs are sent, so they stay deployed when the broker refuses the jobs.
        """
        plan = plan_submit(jobs, name, agent_run_id)
        return self._submit_plan(plan, lambda: self._submit(plan.fields)[0])

    def submit(self, name: Optional[str], jobs: Sequence[TitanJob], agent_run_id: Optional[str] = None) -> List[str]:
        """The same as submit_dag."""
        return self.submit_dag(name, jobs, agent_run_id)

    def get_job(self, job_id: str, run: Optional[int] = None) -> Optional[JobInfo]:
        """The job as the broker reports it, or None when it knows no such id ("DAG-<id>" finds <id>).

        An id may be submitted again once every earlier job of that id has ended; each submission is a
        run (JobInfo.run, 1 = the first). Without `run` this is the latest run; `run=N` gives an earlier
        one (None when there is no such run)."""
        reply = self._broker_call(MsgType.JOB_GET, id=job_id, run=run).fields
        return JobInfo.from_wire(reply["job"]) if reply["found"] else None

    def job_history(self, job_id: str) -> List[JobInfo]:
        """Every run of `job_id`, oldest first ([] for an unknown id)."""
        reply = self._broker_call(MsgType.JOB_GET, id=job_id).fields
        if not reply["found"]:
            return []
        runs = reply.get("runs") or 1
        earlier = [self.get_job(job_id, run=n) for n in range(1, runs)]
        return [j for j in earlier if j is not None] + [JobInfo.from_wire(reply["job"])]

    def get_job_status(self, job_id: str) -> Optional[str]:
        """The job's state ("QUEUED", "RUNNING", "COMPLETED", ...), or None when the broker knows no such
        id (yet): scripts may poll for a job that another job is about to submit."""
        info = self.get_job(job_id)
        return info.state if info is not None else None

    def fetch_logs(self, job_id: str, run: Optional[int] = None) -> str:
        """Everything the job has written so far (stdout and stderr, interleaved as written), decoded as
        UTF-8 with invalid bytes replaced. "" when there is no output yet, and also when the broker
        knows no such job (scripts may ask before the job has been submitted). `run`: an earlier run of
        a reused id (see get_job); the latest by default."""
        try:
            return logs.read_all(lambda offset: self._read_log(job_id, offset, run))
        except InvalidError:
            if self.get_job(job_id) is None:
                return ""
            raise

    def read_log(self, job_id: str, offset: int = 0, max_bytes: int = logs.CHUNK_BYTES,
                 run: Optional[int] = None) -> Tuple[bytes, int, bool]:
        """One slice of the job's log as bytes: (at most `max_bytes` from `offset`, the offset after them,
        complete: the job has ended and that offset is the end of its log). For readers that page or tail a
        log themselves; fetch_logs and stream_logs are simpler. Raises InvalidError for an unknown job."""
        reply = self._broker_call(MsgType.JOB_LOGS, id=job_id, offset=int(offset), max_bytes=int(max_bytes), run=run)
        return (reply.blobs[0] if reply.blobs else b""), reply.fields["next_offset"], reply.fields["complete"]

    def log_tail(self, job_id: str, max_bytes: int = 64 * 1024,
                 run: Optional[int] = None) -> Tuple[bytes, int, int, bool]:
        """The end of the job's log now: (its last `max_bytes` bytes at most, the offset they start at, the offset
        after them, complete: the job has ended and that is the end of its log). read_log() from the offset after
        them gives what the job writes next. Raises InvalidError for an unknown job."""
        if int(max_bytes) <= 0:
            raise ValueError("max_bytes must be positive; got %r" % max_bytes)
        read = lambda offset, n: self.read_log(job_id, offset, n, run)  # noqa: E731
        start = max(0, logs.log_end(read) - int(max_bytes))
        data, end, complete = logs.read_range(read, start, int(max_bytes))
        return data, start, end, complete

    def stream_logs(self, job_id: str, follow: bool = True) -> Iterator[str]:
        """An iterator of str chunks of the job's output: what is there now, then (with `follow`) live
        output until the job has ended and its log is complete. Each byte comes exactly once, in order.
        Raises JobNotFoundError at once for an unknown id. Iterate it from one thread.

        Brokers sharing a journal: after a failover the stream goes on with the new leader's log of the job, which
        holds what the job wrote from its worker's registration with the new leader on (each broker keeps job
        logs in its own --dir); output written while no broker led may be missing."""
        info = self.get_job(job_id)
        if info is None:
            raise JobNotFoundError("no job %r; check the id (list_jobs() shows the jobs)" % job_id)
        pub = self._pub_endpoint if follow else None
        answered_by = [self.endpoint]

        def read(offset: int) -> Tuple[bytes, bool]:
            with self._locked():  # no other call moves the client between the read and the look at its broker
                out = self._read_log(info.id, offset)
                moved, answered_by[0] = self.endpoint != answered_by[0], self.endpoint
            if moved:  # a failover: the new leader's log of the job is another file (logs.LogRestarted)
                raise logs.LogRestarted()
            return out

        return logs.follow(read, pub, info.id, self.credential)

    def wait(self, job_id: str, timeout: Optional[float] = None) -> str:
        """Blocks until the job ends and returns its final state (COMPLETED FAILED CANCELLED DEAD SKIPPED).
        A SERVICE never ends by itself: for one, wait returns "RUNNING" as soon as it is up (ready), or its
        final state if it ends first.

        `timeout` is in seconds (None: no limit); TitanTimeoutError when it passes first. Raises
        JobNotFoundError for an unknown id. Any number of threads may wait at once.

        Driven by the client's one event subscription (job_watch.py: one SUB socket and one thread per
        client, whatever the number of waits): wait registers for the job's events, asks the broker once
        for its state (JOB_GET: it may have ended already), then waits for an event that ends it. A job this
        client submitted (submit_job, submit_dag, submit_async, submit_many) while the subscription worked
        was followed from before its submission was sent, so that first question is skipped (unless the
        client has moved to another broker since). Events can be lost (PUB/SUB), so with no
        news the broker is asked again every job_watch.RECHECK_S seconds.
        """
        return self._wait(job_id, timeout, service_up_ends=True)

    def _wait(self, job_id: str, timeout: Optional[float], service_up_ends: bool) -> str:
        """wait(); with `service_up_ends` False, a SERVICE's wait ends only when it does (a stop's)."""
        self._check_open()
        up = _service_up if service_up_ends else (lambda job: False)
        deadline = None if timeout is None else time.monotonic() + timeout
        watch = self._job_watch()
        w = watch.claim(job_id)  # submitted by this client with the feed followed since: no check needed
        try:
            if w is not None:
                job = {"id": job_id, "state": "PENDING", "submitted_ms": w.submitted_ms}
            else:
                w = watch.register([job_id])
                job = self._wait_check(job_id)
                watch.follow()  # the check found the leader: the feed follows it
                if job["id"] != job_id:  # "DAG-<id>": its events carry the job's own id
                    watch.add(w, [job["id"]])
            interval: Optional[float] = None
            while not (job["state"] in FINAL_STATES or up(job)):
                interval = watch.recheck_interval(interval)
                until = time.monotonic() + interval
                events = watch.next_events(w, until if deadline is None else min(until, deadline))
                ask = not events or watch.closed
                for _, (state, ts_ms) in events:
                    if ts_ms < job["submitted_ms"]:
                        continue  # an earlier run of a reused id, delivered late
                    if state in FINAL_STATES:
                        return state
                    if service_up_ends and job.get("job_type") == "SERVICE" and state == "RUNNING":
                        ask = True  # up now?
                if deadline is not None and time.monotonic() >= deadline:
                    job = self._wait_check(job_id)
                    if job["state"] in FINAL_STATES or up(job):
                        break
                    raise TitanTimeoutError("job %r is still %s after %g s" % (job_id, job["state"], timeout))
                if ask:
                    job = self._wait_check(job_id, job)
                    watch.follow()
            return job["state"]
        finally:
            if w is not None:
                watch.unregister(w)

    def _wait_check(self, job_id: str, last: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The job as the broker reports it now (one JOB_GET). JobNotFoundError for an unknown id. A broker that
        rolled its turn back (UNAVAILABLE, a full disk) gives `last` (the caller asks again later)."""
        try:
            reply = self._broker_call(MsgType.JOB_GET, id=job_id).fields
        except UnavailableError:
            if last is None:
                raise
            return last
        if not reply["found"]:
            raise JobNotFoundError("no job %r to wait for; check the id" % job_id)
        return reply["job"]

    def _job_watch(self) -> JobWatch:
        """The client's event feed for wait() and wait_dag() (started on first use, stopped by close())."""
        with self._locked():
            self._check_open()
            if self._watch is None:
                # The thread must not keep the client alive: it holds the client only weakly, and a client
                # dropped without close() stops its thread when it is collected.
                endpoint = weakref.WeakMethod(self._pub_endpoint)
                me = weakref.ref(self)
                self._watch = JobWatch(lambda: endpoint()(), self.credential,
                                       lambda: me().endpoint if me() is not None else "")
                weakref.finalize(self, self._watch.close)
            return self._watch

    def submit_async(self, job: TitanJob, window: Optional[int] = None) -> SubmitHandle:
        """Sends `job` (a one-job submission, as submit_job) without waiting for the broker's answer and returns a
        SubmitHandle: handle.result() gives the job's id once the broker has accepted it (it is then in the
        journal) and raises the broker's refusal of this job otherwise (InvalidError for an id in use, ...).

        Submissions travel pipelined on one connection of the client's, at most `window` (default
        `client.submit_window`, 64) awaiting their answer: a call beyond that first reads the oldest answers.
        Scripts are sent once per distinct content, as submit_dag does. A job's file missing here, a bad job
        or a closed client raise at once. Each submission carries a token of its own: when the broker does not
        answer within the client's timeout (and another broker is named) or is a standby, the submissions in
        flight are sent again, same tokens, to the next broker or the leader, and each is accepted once; the
        handles still due once every send went unanswered (at once with one broker named) raise NoReplyError,
        and get_job(id) tells whether it was accepted. close() waits for the answers still due. Thread-safe."""
        return self._submitter.submit(job, self.submit_window if window is None else int(window))

    def submit_many(self, jobs: Sequence[TitanJob], window: Optional[int] = None,
                    return_exceptions: bool = False, batch: Optional[int] = None) -> List[Any]:
        """Submits each job on its own (each a one-job submission, as submit_job; not a DAG: one refusal does not
        stop the others), pipelined as submit_async does, and returns their ids in order once every answer is in.
        Up to `batch` jobs (default 32, at most 1,000) travel in one message, which the broker carries out job by
        job (JOB_SUBMIT with `each`); at most `window` jobs await their answer at once. Everything wrong with a job that can be
        told here (not a TitanJob, a path that is a folder, a bad archive job) raises before anything is sent.

        When some were refused, raises the first refusal (in job order) after all have been answered; with
        `return_exceptions` it returns the list with that job's exception in place of its id instead."""
        handles = self._submitter.submit_each(list(jobs), self.submit_window if window is None else int(window),
                                              DEFAULT_BATCH if batch is None else int(batch))
        out: List[Any] = []
        first: Optional[TitanError] = None
        for h in handles:
            error = h.exception()
            out.append(h.result() if error is None else error)
            first = first or error
        if first is not None and not return_exceptions:
            raise first
        return out

    def stop_job(self, job_id: str) -> str:
        """Stops the job: a waiting one becomes CANCELLED at once, a running one is killed (it reports
        CANCELLED when its process has ended; wait() for that). Returns the state after the request.
        A job that already ended keeps its state. Raises JobNotFoundError for an unknown id."""
        try:
            return self._broker_call(MsgType.JOB_STOP, id=job_id).fields["job"]["state"]
        except InvalidError as e:
            if self.get_job(job_id) is None:
                raise JobNotFoundError(e.reason) from None
            raise

    def delete_job(self, job_id: str) -> bool:
        """Deletes a finished job with its output: every run of its id leaves the broker's memory, journal and
        log store (JOB_DELETE). Returns True; raises JobNotFoundError for an unknown id and InvalidError when it
        may not be deleted (not finished: stop it first; submitted with others as a DAG)."""
        try:
            self._broker_call(MsgType.JOB_DELETE, id=job_id)
        except InvalidError as e:
            if self.get_job(job_id) is None:
                raise JobNotFoundError(e.reason) from None
            raise
        return True

    def stop_service(self, job_id: str) -> str:
        """The same as stop_job (a SERVICE is a job that runs until stopped)."""
        return self.stop_job(job_id)

    def restart_service(self, job_id: str) -> JobInfo:
        """Restarts a running service where it runs: its worker stops the process (SIGTERM, the kill grace,
        then SIGKILL) and starts it again at once. Returns the service as the broker sees it now: RUNNING and
        not ready until the new process is; wait(job_id) returns once it is ready again. Its `restarts`
        counts the restart (not as a crash) once the new process has started.

        Raises JobNotFoundError for an unknown id, InvalidError for a job that is not a service or a service
        that is not running (queued, ended, being stopped), UnavailableError when its worker has not come back
        since a broker restart (retry later), ForbiddenError without the operate permission."""
        try:
            reply = self._broker_call(MsgType.SERVICE_RESTART, id=job_id).fields
        except InvalidError as e:
            if self.get_job(job_id) is None:
                raise JobNotFoundError(e.reason) from None
            raise
        return JobInfo.from_wire(reply["job"])

    def health_check(self) -> bool:
        """True when the broker answers and can accept work (it is not read-only for a full disk); False when it
        does not answer within the timeout or refuses. Never raises for an unreachable broker."""
        try:
            stats = self._broker_call(MsgType.STATS_GET).fields
        except TitanError:
            return False
        return not stats.get("read_only")

    @property
    def jobs(self) -> "JobService":
        """Joblet's job API (seed 003): run_job, get_job_status, stop_job, delete_job, get_job_logs, list_jobs,
        run_workflow and the workflow calls, with Joblet's arguments and dicts (joblet_jobs.py)."""
        return JobService(self)

    @property
    def monitoring(self) -> "MonitoringService":
        """Joblet's monitoring API: each worker's machine as its heartbeats report it (monitoring.py)."""
        return MonitoringService(self)
    @property
    def runtimes(self) -> RuntimeService:
        """Runtimes the live workers offer (Joblet's RuntimeService: list_runtimes, get_runtime_info)."""
        return RuntimeService(self)

    @property
    def volumes(self) -> VolumeService:
        """Volumes: named persistent directories on a worker (Joblet's VolumeService: create_volume,
        list_volumes, remove_volume)."""
        return VolumeService(self)

    def get_stats(self) -> Dict[str, Any]:
        """Workers (name, slots, busy, capabilities, state, running) and job counts per state."""
        stats = dict(self._broker_call(MsgType.STATS_GET).fields)
        stats.pop("rid", None)
        return stats

    def workers(self) -> List[WorkerInfo]:
        """Each live worker as the protocol's WorkerInfo: load and capabilities, its capacity for requests
        (cpu_milli, memory_mb, gpus) and what its running jobs reserve of it (cpu_milli_reserved, ...), the
        limits it enforces (controls, limits_via) and its runtimes."""
        return [WorkerInfo.from_wire(w) for w in self.get_stats().get("workers", [])]

    def metrics(self, store: bool = False) -> List[MetricFamily]:
        """The broker's metric families (with `store`, TitanStore's), as Prometheus names them
        (docs/observability.md): counters since the node started, gauges now, histograms. A value is in
        1/`scale` of its metric's unit (MetricFamily.scale). Needs the read permission."""
        if store:
            reply = self._store_call(MsgType.METRICS_GET)
        else:
            reply = self._broker_call(MsgType.METRICS_GET).fields
        return [MetricFamily.from_wire(f) for f in reply["families"]]

    # ---- the audit log ---------------------------------------------------------------------------------

    def audit(self, since: Union[None, float, datetime.datetime, datetime.timedelta] = None,
              principal: Optional[str] = None, limit: int = 1000, store: bool = False) -> List[AuditEntry]:
        """The audit log (docs/security.md), oldest first: who sent which state-changing request, what it
        acted on and how it ended ("ok" or the error code, FORBIDDEN included), and key changes. Only
        admins may read it (ForbiddenError otherwise).

        `since`: only entries recorded from then on: a datetime (naive means local time), a timedelta
        (that long ago) or Unix epoch seconds (as time.time() gives). `principal`: only that principal's.
        `limit`: at most this many (1 ... 10000), the newest. `store`: TitanStore's log instead of the
        broker's (its writes, when the store runs with --audit-writes)."""
        fields: Dict[str, Any] = {"principal": principal, "limit": int(limit)}
        if since is not None:
            fields["since_ms"] = _epoch_ms(since)
        if store:
            reply = self._store_call(MsgType.AUDIT_LIST, **fields)
        else:
            reply = self._broker_call(MsgType.AUDIT_LIST, **fields).fields
        return [AuditEntry.from_wire(e) for e in reply["entries"]]

    def _submit_plan(self, plan: SubmitPlan, send: Callable[[], Any]) -> Any:
        """Deploys what `plan` does not send inline, then calls `send`; a NOT_FOUND for a job whose file is
        not on this machine becomes a JobFileNotFoundError that says how to provide it."""
        for path, name in plan.deploys:
            self._deploy(path, name)
        try:
            return send()
        except NotFoundError as e:
            raise plan.not_found(e) from None

    def _submit(self, fields: Dict[str, Any]) -> Tuple[List[str], Optional[str]]:
        """Sends one JOB_SUBMIT; returns (ids, DAG id) and records the DAG id in last_dag. A file whose
        bytes the broker already accepted from this client goes by its SHA-256 alone; if the broker no
        longer has it (NOT_FOUND: another broker, a fresh data directory), the submission is sent again
        with every file's content. The submission's token (made here unless `fields` has one) goes with
        every send of it: resent after no answer, it is accepted once (_leader_request)."""
        fields = fields if fields.get("token") else dict(fields, token=new_token())
        with self._locked():
            by_hash = self._files_by_hash(fields)
            trackers = self._track(fields)
            try:
                try:
                    reply = self._broker_call(MsgType.JOB_SUBMIT, **(by_hash or fields)).fields
                except NotFoundError:
                    if by_hash is None:
                        raise
                    self._sent_files.clear()
                    reply = self._broker_call(MsgType.JOB_SUBMIT, **fields).fields
            except BaseException:
                self._untrack(trackers)
                raise
            self._accepted(trackers, reply)
            self._remember_files(fields)
            self.last_dag = reply.get("dag")
        return list(reply["ids"]), reply.get("dag")

    def _track(self, fields: Dict[str, Any]) -> Any:
        """Before a JOB_SUBMIT of `fields` is sent: the event feed follows its run-once jobs from now on, when it
        runs and works (JobWatch.track), so that wait() on them needs no check of the broker. None: it does not."""
        watch = self._watch
        if watch is None:
            return None
        return watch.track([j["id"] for j in fields.get("jobs") or () if j.get("job_type") != "SERVICE"])

    def _accepted(self, trackers: Any, reply: Dict[str, Any]) -> None:
        if trackers and self._watch is not None:
            self._watch.accepted(trackers, reply.get("ids") or (), reply.get("submitted_ms"))

    def _untrack(self, trackers: Any) -> None:
        if trackers and self._watch is not None:
            self._watch.untrack(trackers)

    # What is remembered: at most this many distinct files and bytes; the oldest is forgotten first.
    _SENT_FILES_MAX = 64
    _SENT_FILES_MAX_BYTES = 64 << 20

    def _files_by_hash(self, fields: Dict[str, Any], also: Optional[Dict[bytes, str]] = None) -> Optional[Dict[str, Any]]:
        """`fields` with known files as {name, sha256}; None when no file is known. `also`: more known contents
        (content -> SHA-256) besides those the broker accepted (submit_async's, whose answer is due)."""
        files = fields.get("files") or []
        known = [(self._sent_files.get(f["content"]) or (also or {}).get(f["content"]))
                 if isinstance(f.get("content"), bytes) else None for f in files]
        if not any(known):
            return None
        out = dict(fields)
        out["files"] = [{"name": f["name"], "sha256": h} if h else f for f, h in zip(files, known)]
        return out

    def _remember_files(self, fields: Dict[str, Any]) -> None:
        for f in fields.get("files") or []:
            content = f.get("content")
            if not isinstance(content, bytes) or content in self._sent_files:
                continue
            if len(content) > self._SENT_FILES_MAX_BYTES:
                continue
            while self._sent_files and (len(self._sent_files) >= self._SENT_FILES_MAX or
                                        sum(map(len, self._sent_files)) + len(content) > self._SENT_FILES_MAX_BYTES):
                del self._sent_files[next(iter(self._sent_files))]
            self._sent_files[content] = hashlib.sha256(content).hexdigest()

    def _read_log(self, job_id: str, offset: int, run: Optional[int] = None) -> Tuple[bytes, bool]:
        reply = self._broker_call(MsgType.JOB_LOGS, id=job_id, offset=offset, max_bytes=logs.CHUNK_BYTES, run=run)
        return (reply.blobs[0] if reply.blobs else b""), reply.fields["complete"]

    # ---- plumbing ----------------------------------------------------------------------------------

    def _locked(self) -> threading.RLock:
        if self._pid != os.getpid():  # forked: a lock held by a parent thread would never be released
            self._pid = os.getpid()
            self._lock = threading.RLock()
        return self._lock

    def _store_call(self, msg_type: MsgType, **fields: Any) -> dict:
        with self._locked():
            conn = self._store_connection()
            try:
                return conn.request(msg_type, fields, self.timeout).fields
            except TitanTimeoutError:
                if conn is not self._entry:
                    self._store, self._welcome = None, None  # the broker may have moved the store: ask again
                raise

    def _broker_call(self, msg_type: MsgType, **fields: Any) -> Decoded:
        """One request to the node the user named (the broker). A store there answers UNKNOWN_TYPE."""
        with self._locked():
            self._check_open()
            try:
                return self._leader_request(msg_type, fields)
            except UnknownTypeError as e:
                raise self._not_a_broker(e, "artifact calls" if msg_type.name.startswith("ARTIFACT_")
                                         else "job calls") from None

    def _leader_request(self, msg_type: MsgType, fields: Dict[str, Any]) -> Decoded:
        """One request to the leader among the brokers (see the class comment): NOT_LEADER follows the named
        leader, or asks the same standby again shortly while it takes over; silence moves to the next broker,
        and a read, or a write carrying a token (a submission: the broker accepts a token once), is sent again.
        Gives up after the timeout once per broker, plus once."""
        deadline = time.monotonic() + self.timeout * (len(self._brokers) + 1)
        idempotent = not MESSAGE_SPECS[msg_type].writes or bool(fields.get("token"))
        while True:
            try:
                return self._entry.request(msg_type, fields, self.timeout)
            except NotLeaderError as e:
                if time.monotonic() >= deadline:
                    raise
                silent = self._silent.get(parse_address(e.leader, self.port)) if e.leader else None
                if e.leader is None or (silent is not None and time.monotonic() - silent < self.timeout):
                    # A standby taking over (it names no leader, or one that just did not answer us): it
                    # leads within its lease's TTL; ask it again shortly. Past one timeout after that silence
                    # the named leader is asked again: a request lost in a broker's promotion, not its death,
                    # also leaves it silent, and a standby keeps naming a live leader.
                    time.sleep(_TAKEOVER_RETRY_S)
                    continue
                self._brokers.not_leader(e.leader)
                self._use_broker()
            except NoReplyError:
                if len(self._brokers) < 2:
                    raise
                self._silent[self._brokers.current] = time.monotonic()
                self._brokers.no_answer()
                self._use_broker()
                if not idempotent or time.monotonic() >= deadline:
                    raise  # it may have been applied: sent again only by the caller, who can look first

    def _move_broker(self, not_leader: Optional[NotLeaderError], endpoint: Optional[str] = None) -> None:
        """submit_async's pipeline had no answer from the broker at `endpoint` (`not_leader` None) or was told it
        is a standby: the client moves on as _leader_request does (the next broker, the leader named, or the same
        standby again shortly while it takes over). Nothing changes when the client has left `endpoint` already
        (another path found the leader meanwhile): the pipeline's next connection goes where the client is."""
        with self._locked():
            if endpoint is not None and endpoint != self.endpoint:
                return
            if not_leader is None:
                self._silent[self._brokers.current] = time.monotonic()
                self._brokers.no_answer()
            else:
                leader = not_leader.leader
                silent = self._silent.get(parse_address(leader, self.port)) if leader else None
                if leader is None or (silent is not None and time.monotonic() - silent < self.timeout):
                    time.sleep(_TAKEOVER_RETRY_S)
                    return
                self._brokers.not_leader(leader)
            self._use_broker()

    def _use_broker(self) -> None:
        """Connects to the broker now current in the list: what was learnt from the old one is dropped."""
        self.host, self.port = self._brokers.current
        self.endpoint = _tcp(self.host, self.port)
        if self._store is not None and self._store is not self._entry:
            self._store.close()
        self._entry.close()
        self._entry = Connection(self.endpoint, self._hint(), self.credential, self._use_credential)
        self._store, self._welcome = None, None

    def _transfer(self, run: Callable[[Connection], Any]) -> Any:
        """Runs one file transfer on a socket of its own (other threads' calls are not held up)."""
        self._check_open()
        conn = Connection(self.endpoint, self._hint(), self.credential, self._use_credential)
        try:
            return run(conn)
        except UnknownTypeError as e:
            raise self._not_a_broker(e, "file transfers") from None
        finally:
            conn.close()

    def _not_a_broker(self, e: UnknownTypeError, what: str = "job calls") -> UnknownTypeError:
        if what != "job calls":
            return UnknownTypeError("%s; %s need a Titan broker with the artifact registry, and %s is not one (a "
                                    "store, or an older broker): point TitanClient at an up-to-date broker's port "
                                    "(TITAN_PORT)" % (e.reason, what, self.endpoint))
        return UnknownTypeError("%s; job calls need a broker, and %s is not one: point TitanClient at the broker's "
                                "port (TITAN_PORT)" % (e.reason, self.endpoint))

    def _check_open(self) -> None:
        if self._closed:
            raise TitanError("this TitanClient is closed; create a new one")

    def _hello(self) -> Dict[str, Any]:
        if self._welcome is None:
            self._welcome = self._leader_request(MsgType.HELLO, {"client": "titan-sdk-py/" + __version__}).fields
        return self._welcome

    def _store_connection(self) -> Connection:
        self._check_open()
        if self._store is None:
            self._store = self._connection_from(self._hello())
        return self._store

    def _pub_endpoint(self) -> str:
        with self._locked():
            self._check_open()
            welcome = self._hello()
        if welcome.get("pub_port") is None:
            raise TitanError("%s (a %s) announces no event feed; stream_logs, wait and wait_dag need the broker's port"
                             % (self.endpoint, welcome.get("node")))
        return _tcp(self.host, welcome["pub_port"])

    def _connection_from(self, welcome: dict) -> Connection:
        port = welcome.get("store_port")
        if port is None:
            return self._entry  # the node we said HELLO to is the store itself
        host = welcome.get("store_host") or self.host
        endpoint = _tcp(host, port)
        return Connection(endpoint, "TitanStore at %s was announced by the %s at %s but does not answer; "
                                    "is it running and reachable from here?" % (endpoint, welcome["node"],
                                                                                self.endpoint), self.credential,
                          self._use_credential)

    def _use_credential(self, credential: Credential) -> None:
        """A connection re-read the credential file after a refused handshake: new connections use it too."""
        self.credential = credential

    def _hint(self) -> str:
        return ("is `titan up`, `titan broker` or `titan store` running at %s:%d? Set TITAN_HOST/TITAN_PORT (or pass "
                "TitanClient(host=..., port=...)) to point at it" % (self.host, self.port))
