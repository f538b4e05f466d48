# The chaos workload: a steady stream of short shell jobs submitted through the SDK, each recording its runs
# in a file, and a stream of TitanStore writes. Both tolerate a broker or store that is away: a request
# that got no answer is neither counted as done nor blindly sent again (see Submitter).
import random
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

from titan_sdk import TitanClient, TitanJob
from titan_sdk.errors import TitanError, TitanTimeoutError, UnavailableError

REQUEST_TIMEOUT_S = 3.0  # one request; a broker stopped or restarting takes longer, and that is the point
LOOKUP_DEADLINE_S = 120.0  # how long a submitter asks after a submission whose answer was lost
RETRY_PAUSE_S = 0.5  # before sending again what a node refused as UNAVAILABLE (nothing was applied)
# How long a job sleeps: most are short; some outlast a worker's lease (2.5 s), so that a stalled broker or
# worker makes their workers fence them.
SHORT_JOB_S, LONG_JOB_S, LONG_JOBS = (0.2, 1.5), (2.0, 6.0), 0.2

# Each run of a job appends "start" and, if it lives to its end, "done" to <records>/<job id>.runs:
# "<event> <job id> <attempt> <pid> <worker> <epoch seconds>". It holds a lock on <job id>.lock while any of
# its processes lives; a copy that finds the lock taken runs beside another copy and records "overlap" first.
# It prints one line, so that its log travels to the broker (and into the broker's data folder) too.
JOB_SCRIPT = r"""#!/bin/bash
records=$1
rec="$records/$TITAN_JOB_ID.runs"
worker=${TITAN_JOB_DIR%/titan_workspace/*}
worker=${worker##*/}
line() { echo "$1 $TITAN_JOB_ID $TITAN_ATTEMPT $$ $worker $EPOCHREALTIME" >> "$rec"; }
exec 9>>"$records/$TITAN_JOB_ID.lock"
flock -n 9 || line overlap
line start
echo "chaos job $TITAN_JOB_ID attempt $TITAN_ATTEMPT on $worker"
sleep "$2"
line done
"""


def missing_tools() -> str:
    """What the job script needs and this machine lacks ("" when nothing): flock (util-linux), bash 5."""
    if shutil.which("flock") is None:
        return "flock (util-linux)"
    probe = subprocess.run(["bash", "-c", 'echo "$EPOCHREALTIME"'], capture_output=True, text=True)
    return "" if probe.stdout.strip() else "bash 5 or later (EPOCHREALTIME)"


def write_job_script(directory: Path) -> str:
    path = Path(directory) / "chaos_job.sh"
    path.write_text(JOB_SCRIPT)
    return str(path)


@dataclass
class Submission:
    """One job the workload asked for. `outcome`: "acked" (JOB_ACCEPTED came back), "found" (the answer was
    lost, and JOB_GET then found the id: accepted), "unacked" (the answer was lost and the broker did not
    know the id when asked: not accepted then; the end of the run checks again)."""

    job_id: str
    sent_at: float  # time.time() of the first send
    outcome: str = ""


@dataclass
class Tally:
    """What a stream did; read by the driver after the stream stopped."""

    submissions: List[Submission] = field(default_factory=list)
    unavailable: int = 0  # UNAVAILABLE answers (not applied; sent again)
    errors: List[str] = field(default_factory=list)  # answers no fault explains: the run fails on them


class PacedStream(threading.Thread):
    """A thread that calls _once(n) for n = 1, 2, ... at `rate` per second on average (exponential gaps)
    until stop(), then finishes the call in hand. An exception ends the stream and is put in its tally's
    errors, never lost in the thread; the client is closed at the end."""

    what = "stream"

    def __init__(self, port: int, rng: random.Random, rate: float, run_token: str):
        super().__init__(name="chaos-" + self.what.replace(" ", "-"), daemon=True)
        self._client = TitanClient(host="127.0.0.1", port=port, timeout=REQUEST_TIMEOUT_S)
        self._rng = rng
        self._rate = rate
        self._token = run_token
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def _once(self, n: int) -> None:
        raise NotImplementedError

    def run(self) -> None:
        n = 0
        try:
            while not self._stopping.is_set():
                n += 1
                self._once(n)
                self._stopping.wait(self._rng.expovariate(self._rate))  # pacing of the stream, not a wait for a state
        except Exception as e:  # noqa: BLE001 - reported by the driver, never lost in a thread
            self.tally.errors.append("%s stopped: %s: %s" % (self.what, type(e).__name__, e))
        finally:
            self._client.close()


class Submitter(PacedStream):
    """Submits one job at a time, `rate` per second on average, until stop() (then finishes the one in hand).

    Idempotency: a JOB_SUBMIT whose answer was lost (a timeout) may or may not have been accepted, and
    sending the same id again is not idempotent (an id whose earlier run ended becomes its next run,
    docs/protocol.md section 10.8). So the submitter asks JOB_GET for the id until the broker answers:
    found means accepted. Not found means not accepted by then; the id is never sent again (the SDK
    resets its socket on a timeout, so a copy of the request still queued at a stalled broker could be
    read after a resend) and the end of the run asks once more (a late copy accepted it) or counts it
    as unacknowledged. UNAVAILABLE means nothing was applied: the same id is sent again.
    """

    what = "submitter"

    def __init__(self, port: int, script: str, records: Path, rng: random.Random, rate: float, run_token: str):
        super().__init__(port, rng, rate, run_token)
        self._script = script
        self._records = records
        self.tally = Tally()

    def _once(self, n: int) -> None:
        self._submit_one("%s-%05d" % (self._token, n))

    def _submit_one(self, job_id: str) -> None:
        seconds = round(self._rng.uniform(*(LONG_JOB_S if self._rng.random() < LONG_JOBS else SHORT_JOB_S)), 2)
        job = TitanJob(job_id, self._script, args="%s %s" % (self._records, seconds), env={"CHAOS_RUN": self._token})
        sub = Submission(job_id, time.time())
        self.tally.submissions.append(sub)
        while True:
            try:
                self._client.submit_job(job)
                sub.outcome = "acked"
                return
            except UnavailableError:
                self.tally.unavailable += 1
                time.sleep(RETRY_PAUSE_S)  # a retry backoff: the refusal applied nothing
            except TitanTimeoutError:
                break
        sub.outcome = "found" if self._known(job_id) else "unacked"

    def _known(self, job_id: str) -> bool:
        """Whether the broker has `job_id`, asked until it answers (within LOOKUP_DEADLINE_S)."""
        deadline = time.monotonic() + LOOKUP_DEADLINE_S
        while True:
            try:
                return self._client.get_job(job_id) is not None
            except (TitanTimeoutError, UnavailableError):
                if time.monotonic() > deadline:
                    raise TitanError("the broker did not answer JOB_GET %s for %g s" % (job_id, LOOKUP_DEADLINE_S))


@dataclass
class StoreTally:
    acked: Dict[str, str] = field(default_factory=dict)  # key -> value whose STORE_PUT was answered STORE_OK
    unacked: List[float] = field(default_factory=list)  # when each put without an answer was sent
    errors: List[str] = field(default_factory=list)


class StoreWriter(PacedStream):
    """Puts "chaos/<n>" = "<n>:<token>" into TitanStore (found through the broker's WELCOME), `rate` per
    second, until stop(). A put answered STORE_OK is on disk (docs/protocol.md section 10.4) and must read
    back after any number of store crashes; a put without an answer proves nothing either way."""

    what = "store writer"

    def __init__(self, port: int, rng: random.Random, rate: float, run_token: str):
        super().__init__(port, rng, rate, run_token)
        self.tally = StoreTally()

    def _once(self, n: int) -> None:
        key, value = "chaos/%s/%05d" % (self._token, n), "%d:%s" % (n, self._token)
        sent = time.time()
        try:
            self._client.store_put(key, value)
            self.tally.acked[key] = value
        except (TitanTimeoutError, UnavailableError):
            self.tally.unacked.append(sent)