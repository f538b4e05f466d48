# Pipelined submissions (TitanClient.submit_async / submit_many): one-job JOB_SUBMITs sent on one connection
# of their own, up to a window of them in flight, their JOB_ACCEPTED (or ERROR) replies matched by rid. A
# SubmitHandle holds one submission's outcome; whoever needs a reply reads replies in arrival order and
# settles the handles they answer, so no thread of its own is needed.
#
# Connection loss: a submission whose reply does not come within the client's timeout is NOT sent again. The
# broker takes a second JOB_SUBMIT of an id as a new run once the first has ended (or refuses it as "in use"
# while it lives), so a resend is not idempotent: the handle raises NoReplyError instead, saying the outcome is
# unknown and how to find it out (get_job).
#
# Brokers sharing a journal (client.py): the connection follows the client's broker. A submission a standby
# refused NOT_LEADER was not applied: it is sent again to the leader the standby named, once the replies still
# due on the old connection are in. Silence moves the client (and so the next connection) to the next broker.
import hashlib
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional

from .errors import NoReplyError, NotFoundError, NotLeaderError, TitanError, TitanTimeoutError, UnknownTypeError
from .job import TitanJob
from .protocol import Decoded, MsgType
from .submission import SubmitPlan, plan_submit
from .transport import Connection, Pipeline

if TYPE_CHECKING:  # pragma: no cover
    from .client import TitanClient

DEFAULT_WINDOW = 64  # submissions in flight at once, unless the call says otherwise
_TAKEOVER_RETRY_S = 0.2  # a standby taking over (it names no leader) is asked again this much later


class SubmitHandle:
    """The outcome of one asynchronous submission (TitanClient.submit_async): result() returns the job's id
    once the broker has accepted it (durably: it is in the journal), or raises the broker's refusal of this
    job (InvalidError with its reason, ...). Thread-safe; result() may be called any number of times."""

    def __init__(self, submitter: "Submitter", job_id: str):
        self.job_id = job_id
        self._submitter = submitter
        self._ids: Optional[List[str]] = None
        self._error: Optional[TitanError] = None

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


class _InFlight(NamedTuple):
    handle: SubmitHandle
    plan: SubmitPlan
    by_hash: bool  # sent with some files by their SHA-256 only


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
        # Refused NOT_LEADER (so not applied), sent again once no reply is due on the old connection.
        self._redirected: List[_InFlight] = []
        self._ask_again = False  # the standby that refused them is taking over: ask it again, a moment later
        self._follow_until: Optional[float] = None  # monotonic: after this, NOT_LEADER goes to the handle

    def submit(self, job: TitanJob, window: int) -> SubmitHandle:
        """Sends `job` as a one-job JOB_SUBMIT once fewer than `window` are in flight; returns its handle.
        Raises at once what fails before anything is sent (a bad job, a file missing here, a closed client)."""
        if window < 1:
            raise ValueError("window must be at least 1; got %r" % window)
        plan = plan_submit([job], None, None)
        for path, name in plan.deploys:  # project zips and big scripts: uploaded first, as submit_dag does
            self._client._deploy(path, name)
        handle = SubmitHandle(self, job.job_id)
        with self._locked():
            self._client._check_open()
            while len(self._pending) >= window:
                self._receive_one()
            self._send(handle, plan, by_hash=True)
        return handle

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
            self._redirected.clear()
        return self._lock

    def _pipeline(self) -> Pipeline:
        """The pipeline to the client's broker now: one to another broker (the client followed the leader, or
        moved on after silence) is closed once every reply due on it is read."""
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

    def _send(self, handle: SubmitHandle, plan: SubmitPlan, by_hash: bool) -> None:
        fields = self._by_hash(plan.fields) if by_hash else None
        rid = self._pipeline().send(MsgType.JOB_SUBMIT, fields or plan.fields)
        self._pending[rid] = _InFlight(handle, plan, fields is not None)
        for f in (fields or plan.fields).get("files") or []:
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
            if isinstance(e, TitanTimeoutError):  # silence: the next connection goes to the next broker
                self._client._after_silence(self._conn.endpoint)
            self._fail_all(e)
            if self._redirected:  # refused NOT_LEADER before the silence: not applied, so sent again
                self._send_redirected()
            return
        except BaseException:  # an interrupt: the replies due can no longer be matched on this socket
            self._fail_all(NoReplyError("interrupted while waiting for the broker's answer"))
            for sent in self._redirected:
                sent.handle._error = NoReplyError("interrupted before job %r was sent to the leader (it was not "
                                                  "applied)" % sent.handle.job_id)
            self._redirected.clear()
            raise
        sent = self._pending.pop(rid)
        if isinstance(refusal, NotLeaderError) and self._follow(refusal):
            self._redirected.append(sent)
        elif refusal is None:
            self._accepted(sent, reply)
        elif isinstance(refusal, NotFoundError) and sent.by_hash:
            self._forget_files(sent.plan)
            with self._client._locked():
                self._client._sent_files.clear()
            self._send(sent.handle, sent.plan, by_hash=False)  # the broker lost a file: send the contents
        elif isinstance(refusal, NotFoundError):
            sent.handle._error = sent.plan.not_found(refusal)
        elif isinstance(refusal, UnknownTypeError):
            sent.handle._error = self._client._not_a_broker(refusal)
        else:
            self._forget_files(sent.plan)
            sent.handle._error = refusal
        if self._redirected and not self._pending:
            self._send_redirected()

    def _follow(self, refusal: NotLeaderError) -> bool:
        """A standby refused a submission: the client follows the leader it names. False once following has
        lasted past the client's timeout per broker, plus one (the refusal then goes to the handle)."""
        now = time.monotonic()
        if self._follow_until is None:
            self._follow_until = now + self._client.timeout * (len(self._client._brokers) + 1)
        elif now >= self._follow_until:
            return False
        self._ask_again = self._client._after_not_leader(self._conn.endpoint, refusal) or self._ask_again
        return True

    def _send_redirected(self) -> None:
        """Sends the submissions refused NOT_LEADER again, on the pipeline to the broker the client uses now."""
        redirected, self._redirected = self._redirected, []
        if self._ask_again:
            self._ask_again = False
            time.sleep(_TAKEOVER_RETRY_S)
        for sent in redirected:
            self._send(sent.handle, sent.plan, by_hash=True)

    def _accepted(self, sent: _InFlight, reply: Decoded) -> None:
        self._follow_until = None
        with self._client._locked():
            self._client._remember_files(sent.plan.fields)
            self._client.last_dag = reply.fields.get("dag")
        self._forget_files(sent.plan)
        sent.handle._ids = list(reply.fields["ids"])

    def _forget_files(self, plan: SubmitPlan) -> None:
        """Drops the in-flight record of `plan`'s contents: answered, they are known (or not) for sure now."""
        for f in plan.fields.get("files") or []:
            self._inflight_files.pop(f.get("content"), None)

    def _fail_all(self, error: TitanError) -> None:
        for sent in self._pending.values():
            if not isinstance(error, TitanTimeoutError):  # nothing was answered: e.g. a refused handshake
                sent.handle._error = error
                continue
            sent.handle._error = NoReplyError(
                "no answer to the submission of job %r (%s); it may or may not have been accepted: "
                "get_job(%r) tells. It was not sent again, since a second submission of a finished id "
                "starts a new run" % (sent.handle.job_id, error, sent.handle.job_id))
        self._pending.clear()
        self._inflight_files.clear()
        if self._pipe is not None:
            self._pipe.__exit__(None, None, None)  # resets the socket: late replies are never misread
            self._pipe = self._conn.pipeline(self._client.timeout)
