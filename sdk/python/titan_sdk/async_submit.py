# Pipelined submissions (TitanClient.submit_async / submit_many): one-job submissions sent on one connection
# of their own, up to a window of jobs in flight, their JOB_ACCEPTED (or ERROR) replies matched by rid.
# submit_async sends each as a JOB_SUBMIT of its own; submit_many sends them up to `batch` at a time in one
# JOB_SUBMIT with `each` (the broker carries out each job as a submission of its own and answers one outcome
# per job), which spares both sides the per-message work. A SubmitHandle holds one job's outcome; whoever
# needs a reply reads replies in arrival order and settles the handles they answer, so no thread of its own
# is needed.
#
# Connection loss: each message carries a token of its own (JOB_SUBMIT.token; with `each` the broker gives job
# i the token "<token>/<i>"), and a broker answers a token it accepted already with that first acceptance,
# submitting nothing. So when no reply comes within the
# client's timeout (with more than one broker named), or the broker turns out to be a standby (NOT_LEADER),
# every submission in flight is sent again, token and all, to the broker the client moves to
# (TitanClient._move_broker: the next one, or the leader named), until the timeout has passed once per broker
# plus once; only then, or at once with a single broker, does a handle raise NoReplyError, saying the outcome
# is unknown and how to find it out (get_job).
import hashlib
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional, Sequence

from .brokers import new_token
from .errors import (NoReplyError, NotFoundError, NotLeaderError, TitanError, TitanProtocolError, TitanTimeoutError,
                     UnknownTypeError, error_from_reply)
from .job import TitanJob
from .protocol import MAX_BODY_BYTES, Decoded, MsgType
from .submission import SubmitPlan, plan_submit
from .transport import Connection, Pipeline

if TYPE_CHECKING:  # pragma: no cover
    from .client import TitanClient

DEFAULT_WINDOW = 64  # submissions (jobs) in flight at once, unless the call says otherwise
DEFAULT_BATCH = 32  # jobs per JOB_SUBMIT with `each` (submit_many), unless the call says otherwise
_MAX_BATCH = 1000  # the broker's limit on the jobs of one such message
_BATCH_BYTES = MAX_BODY_BYTES // 2  # what the jobs of one such message may add up to, roughly (_approx_bytes)


class SubmitHandle:
    """The outcome of one asynchronous submission (TitanClient.submit_async): result() returns the job's id
    once the broker has accepted it (durably: it is in the journal), or raises the broker's refusal of this
    job (InvalidError with its reason, ...). Thread-safe; result() may be called any number of times."""

    def __init__(self, submitter: "Submitter", job_id: str):
        self.job_id = job_id
        self._submitter = submitter
        self._ids: Optional[List[str]] = None
        self._error: Optional[TitanError] = None
        self._trackers = None  # the event feed's trackers of this submission (JobWatch.track), until answered

    def _refuse(self, error: TitanError) -> None:
        self._error = error
        self._submitter._client._untrack(self._trackers)
        self._trackers = None

    def done(self) -> bool:
        """True once the broker's answer is in (reads the replies already here, never waits)."""
        if self._ids is None and self._error is None:
            self._submitter.poll()
        return self._ids is not None or self._error is not None

    def result(self) -> str:
        """The job's id. Waits for the broker's answer; raises its refusal (InvalidError, ...), or NoReplyError
        when no answer came within the client's timeout (the job may or may not have been accepted)."""
        self._submitter.settle(self)
        if self._error is not None:
            raise self._error
        return self._ids[0]

    @property
    def ids(self) -> List[str]:
        """Every id the submission created: the job, then its gate "hitl-gate-<id>" when it has a hitl_message."""
        self.result()
        return list(self._ids)

    def exception(self) -> Optional[TitanError]:
        """The refusal result() would raise, or None when the job was accepted. Waits as result() does."""
        self._submitter.settle(self)
        return self._error

    def __repr__(self) -> str:
        state = "accepted" if self._ids is not None else "refused" if self._error is not None else "in flight"
        return "SubmitHandle(%r, %s)" % (self.job_id, state)


class _Member(NamedTuple):
    """One job of a message in flight: its handle and its own one-job plan."""
    handle: SubmitHandle
    plan: SubmitPlan


class _InFlight(NamedTuple):
    members: List[_Member]  # one for a JOB_SUBMIT of its own; the jobs in order for one with `each`
    fields: Dict[str, Any]  # the JOB_SUBMIT's fields, files with their contents, token included
    by_hash: bool  # sent with some files by their SHA-256 only
    deadline: float  # monotonic: no send of it after this (the client's timeout once per broker, plus once)
    sends: int = 1


def _approx_bytes(plan: SubmitPlan) -> int:
    """About what `plan`'s job and files add to a message: the contents it carries (files, uploads) and its
    longer fields; 1 KiB for the rest."""
    size = 1024 + sum(len(f.get("content") or b"") for f in plan.fields.get("files") or ())
    for spec in plan.fields["jobs"]:
        size += sum(len(u.get("content") or b"") for u in spec.get("uploads") or ())
        size += sum(len(e) for key in ("env", "secret_env", "argv") for e in spec.get(key) or ())
        size += len(spec.get("args") or "")
    return size


def _batches(plans: Sequence[SubmitPlan], batch: int) -> List[List[int]]:
    """The indexes of `plans` in runs of consecutive ones that go in one message: at most `batch` of them,
    about _BATCH_BYTES at most (one bigger plan goes alone), and no two naming different files by one name."""
    out: List[List[int]] = []
    names: Dict[str, bytes] = {}
    size = 0
    for i, plan in enumerate(plans):
        files = {f["name"]: f.get("content") for f in plan.fields.get("files") or ()}
        bytes_ = _approx_bytes(plan)
        if not out or len(out[-1]) >= batch or size + bytes_ > _BATCH_BYTES or \
                any(names.get(n, c) != c for n, c in files.items()):
            out.append([])
            names, size = {}, 0
        out[-1].append(i)
        names.update(files)
        size += bytes_
    return out


def _each_fields(members: Sequence[_Member]) -> Dict[str, Any]:
    """One JOB_SUBMIT with `each` for `members` (their files merged, each name once)."""
    files: Dict[str, Dict[str, Any]] = {}
    for m in members:
        for f in m.plan.fields.get("files") or ():
            files.setdefault(f["name"], f)
    return {"jobs": [m.plan.fields["jobs"][0] for m in members], "files": list(files.values()),
            "token": new_token(), "each": True}


class Submitter:
    """A client's pipelined submissions: its own connection, the submissions in flight on it (rid ->
    _InFlight), and the file contents sent inline whose submission has no answer yet (so the next
    submission names them by hash: the broker reads one connection in order). All state under one lock."""

    def __init__(self, client: "TitanClient"):
        self._client = client
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._conn: Optional[Connection] = None
        self._pipe: Optional[Pipeline] = None
        self._pending: Dict[int, _InFlight] = {}
        self._inflight_files: Dict[bytes, str] = {}  # content -> SHA-256, sent inline, answer due

    def submit(self, job: TitanJob, window: int) -> SubmitHandle:
        """Sends `job` as a one-job JOB_SUBMIT once fewer than `window` are in flight; returns its handle.
        Raises at once what fails before anything is sent (a bad job, a file missing here, a closed client)."""
        if window < 1:
            raise ValueError("window must be at least 1; got %r" % window)
        plan = plan_submit([job], None, None)
        plan.fields["token"] = new_token()  # the same on every send of this submission
        for path, name in plan.deploys:  # project zips and big scripts: uploaded first, as submit_dag does
            self._client._deploy(path, name)
        handle = SubmitHandle(self, job.job_id)
        with self._locked():
            self._client._check_open()
            while self._in_flight() >= window:
                self._receive_one()
            c = self._client
            handle._trackers = c._track(plan.fields)  # before the send: a wait() after it needs no check
            self._send([_Member(handle, plan)], plan.fields, by_hash=True, deadline=self._deadline())
        return handle

    def submit_each(self, jobs: Sequence[TitanJob], window: int, batch: int = DEFAULT_BATCH) -> List[SubmitHandle]:
        """Sends each of `jobs` as a submission of its own, up to `batch` of them per JOB_SUBMIT with `each`, once
        fewer than `window` jobs are in flight; returns their handles in order. Raises at once, before anything
        is sent, what submit() would raise for any of them."""
        if window < 1 or batch < 1:
            raise ValueError("window and batch must be at least 1; got %r and %r" % (window, batch))
        plans = [plan_submit([job], None, None) for job in jobs]
        for plan in plans:
            for path, name in plan.deploys:
                self._client._deploy(path, name)
        handles = [SubmitHandle(self, job.job_id) for job in jobs]
        with self._locked():
            self._client._check_open()
            for group in _batches(plans, min(batch, window, _MAX_BATCH)):
                while self._pending and self._in_flight() + len(group) > window:
                    self._receive_one()
                members = [_Member(handles[i], plans[i]) for i in group]
                for m in members:
                    m.handle._trackers = self._client._track(m.plan.fields)
                fields = _each_fields(members) if len(members) > 1 else dict(members[0].plan.fields,
                                                                                token=new_token())
                self._send(members, fields, by_hash=True, deadline=self._deadline())
        return handles

    def settle(self, handle: SubmitHandle) -> None:
        """Reads replies until `handle` has its answer."""
        with self._locked():
            while handle._ids is None and handle._error is None:
                if not self._pending:  # only after a fork: the parent's submissions are not ours to read
                    handle._error = TitanError("job %r was submitted before this process forked; its answer went "
                                               "to the parent (get_job tells whether it was accepted)" % handle.job_id)
                    return
                self._receive_one()

    def poll(self) -> None:
        """Settles the handles whose replies have arrived already, without waiting (not even for the lock: a
        thread holding it is reading replies already)."""
        lock = self._locked()
        if not lock.acquire(blocking=False):
            return
        try:
            while self._pending and self._conn is not None and self._conn._sock is not None \
                    and self._conn._sock.poll(0):
                self._receive_one()
        finally:
            lock.release()

    def close(self) -> None:
        """Waits for the answers still due (so no accepted job goes unreported to its handle), then closes."""
        with self._locked():
            while self._pending:
                self._receive_one()
            if self._conn is not None:
                self._conn.close()
            self._conn, self._pipe = None, None

    # ---- under the lock --------------------------------------------------------------------------------

    def _locked(self) -> threading.Lock:
        if self._pid != os.getpid():  # forked: the parent's lock, socket and replies are not ours
            self._pid = os.getpid()
            self._lock = threading.Lock()
            self._conn, self._pipe = None, None
            self._pending.clear()
            self._inflight_files.clear()
        return self._lock

    def _pipeline(self) -> Pipeline:
        """The pipeline to the client's broker now: one to another broker (the client followed the leader, or
        moved on after silence, on another path) is closed once every reply due on it is read."""
        while self._conn is not None and self._conn.endpoint != self._client.endpoint:
            if self._pending:
                self._receive_one()
                continue
            self._conn.close()
            self._conn, self._pipe = None, None
        if self._pipe is None:
            c = self._client
            self._conn = Connection(c.endpoint, c._hint(), c.credential, c._use_credential)
            self._pipe = self._conn.pipeline(c.timeout)
        return self._pipe

    def _in_flight(self) -> int:
        """Jobs whose answer is due."""
        return sum(len(sent.members) for sent in self._pending.values())

    def _deadline(self) -> float:
        c = self._client
        return time.monotonic() + c.timeout * (len(c._brokers) + 1)

    def _send(self, members: List[_Member], fields: Dict[str, Any], by_hash: bool, deadline: float,
              sends: int = 1) -> None:
        named = self._by_hash(fields) if by_hash else None
        rid = self._pipeline().send(MsgType.JOB_SUBMIT, named or fields)
        self._pending[rid] = _InFlight(members, fields, named is not None, deadline, sends)
        for f in (named or fields).get("files") or []:
            content = f.get("content")
            if isinstance(content, bytes) and content not in self._inflight_files:
                self._inflight_files[content] = hashlib.sha256(content).hexdigest()

    def _by_hash(self, fields: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """`fields` with each file the broker has (or is about to have, from a submission ahead of this one on
        this connection) named by its SHA-256; None when there is none."""
        with self._client._locked():
            return self._client._files_by_hash(fields, self._inflight_files)

    def _receive_one(self) -> None:
        """Reads one reply and settles its handle. When none comes (timeout, lost connection, refused
        handshake), every submission in flight is settled with that error and the socket is reset."""
        pipe = self._pipe
        try:
            rid, reply, refusal = pipe.receive_outcome()
        except TitanError as e:
            self._fail_all(e)
            return
        except BaseException:  # an interrupt: the replies due can no longer be matched on this socket
            # Settled, not sent again, and the client stays with its broker: an interrupt is not its silence.
            self._fail_all(NoReplyError("interrupted while waiting for the broker's answer"), resend=False)
            raise
        sent = self._pending.pop(rid)
        if refusal is None and not sent.fields.get("each"):
            self._accepted(sent.members[0], reply.fields)
        elif refusal is None:
            self._each_answered(sent, reply)
        elif isinstance(refusal, NotLeaderError) and time.monotonic() < sent.deadline:
            self._pending[rid] = sent  # not applied: sent again with the others in flight, to the leader
            self._resend_all(refusal)
        else:
            for m in sent.members:
                self._refused(sent, m, refusal)

    def _each_answered(self, sent: _InFlight, reply: Decoded) -> None:
        """A JOB_ACCEPTED to a JOB_SUBMIT with `each`: settles each job with its own outcome."""
        outcomes = reply.fields.get("each")
        if outcomes is None or len(outcomes) != len(sent.members):
            error = TitanProtocolError(
                "the broker answered a submission of %d jobs (JOB_SUBMIT with `each`) without one outcome per job "
                "(it may be older than this SDK: upgrade it, or submit with submit_async); get_job tells which "
                "were accepted" % len(sent.members))
            for m in sent.members:
                self._forget_files(m.plan)
                m.handle._refuse(error)
            return
        for m, outcome in zip(sent.members, outcomes):
            if outcome.get("error"):
                self._refused(sent, m, error_from_reply(outcome["error"], outcome.get("reason") or ""))
            else:
                self._accepted(m, {"ids": outcome.get("ids") or [], "dag": outcome.get("dag"),
                                   "submitted_ms": reply.fields.get("submitted_ms")})

    def _refused(self, sent: _InFlight, m: _Member, refusal: TitanError) -> None:
        if isinstance(refusal, NotFoundError) and sent.by_hash:
            self._forget_files(m.plan)
            with self._client._locked():
                self._client._sent_files.clear()
            # The broker lost a file: this job is sent again on its own, with its files' contents (and a token
            # of its own: nothing was accepted under the one it was refused with).
            self._send([m], dict(m.plan.fields, token=new_token()), False, sent.deadline, sent.sends)
        elif isinstance(refusal, NotFoundError):
            m.handle._refuse(m.plan.not_found(refusal))
        elif isinstance(refusal, UnknownTypeError):
            m.handle._refuse(self._client._not_a_broker(refusal))
        else:
            self._forget_files(m.plan)
            m.handle._refuse(refusal)

    def _accepted(self, m: _Member, reply: Dict[str, Any]) -> None:
        with self._client._locked():
            self._client._remember_files(m.plan.fields)
            self._client.last_dag = reply.get("dag")
        self._forget_files(m.plan)
        self._client._accepted(m.handle._trackers, reply)
        m.handle._trackers = None
        m.handle._ids = list(reply["ids"])

    def _forget_files(self, plan: SubmitPlan) -> None:
        """Drops the in-flight record of `plan`'s contents: answered, they are known (or not) for sure now."""
        for f in plan.fields.get("files") or []:
            self._inflight_files.pop(f.get("content"), None)

    def _resend_all(self, not_leader: Optional[NotLeaderError]) -> None:
        """After no answer (`not_leader` None) or a standby's: the client moves to another broker, and every
        submission in flight whose deadline has not passed is sent again there, in the order first sent, with
        its token and its files' contents; the others settle with NoReplyError."""
        due = sorted(self._pending.items())
        self._pending.clear()
        self._inflight_files.clear()
        endpoint = self._conn.endpoint if self._conn is not None else None
        if self._pipe is not None:
            self._pipe.__exit__(None, None, None)  # resets the socket: late replies are never misread
        if self._conn is not None:
            self._conn.close()
        self._conn, self._pipe = None, None
        self._client._move_broker(not_leader, endpoint)
        now = time.monotonic()
        for _, sent in due:
            if now >= sent.deadline:
                for m in sent.members:
                    m.handle._refuse(self._no_reply(sent, m, "no answer from any broker within the timeout"))
            else:
                self._send(sent.members, sent.fields, False, sent.deadline, sent.sends + 1)

    @staticmethod
    def _no_reply(sent: _InFlight, m: _Member, why: Any) -> NoReplyError:
        job_id = m.handle.job_id
        return NoReplyError(
            "no answer to the submission of job %r (%s; sent %d time%s with its token); it may or may not have "
            "been accepted: get_job(%r) tells" % (job_id, why, sent.sends, "" if sent.sends == 1 else "s", job_id))

    def _fail_all(self, error: TitanError, resend: bool = True) -> None:
        """Settles every submission in flight with `error`, or, after a broker's silence with another broker
        named (`resend`), sends them again there (_resend_all) while their deadlines allow."""
        if resend and isinstance(error, TitanTimeoutError) and len(self._client._brokers) > 1 and \
                any(time.monotonic() < s.deadline for s in self._pending.values()):
            self._resend_all(None)
            return
        for sent in self._pending.values():
            for m in sent.members:
                if not isinstance(error, TitanTimeoutError):  # nothing was answered: e.g. a refused handshake
                    m.handle._refuse(error)
                else:
                    m.handle._refuse(self._no_reply(sent, m, error))
        self._pending.clear()
        self._inflight_files.clear()
        if self._pipe is not None:
            self._pipe.__exit__(None, None, None)  # resets the socket: late replies are never misread
            self._pipe = self._conn.pipeline(self._client.timeout)
