# Every job event the broker publishes, kept per job id, across broker restarts (whose event port may
# change: follow() names the new one). Events published while no subscriber listens are missed, so the
# record is a sample; what it shows must still be right: no job ends twice.
import threading
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import zmq

from titan_sdk import protocol
from titan_sdk.job import FINAL_STATES
from titan_sdk.protocol import MsgType

POLL_MS = 100


class JobEvents(threading.Thread):
    """A SUB socket on topic "job." of the broker's event port, owned by this thread."""

    def __init__(self):
        super().__init__(name="chaos-events", daemon=True)
        self._port: Optional[int] = None  # written by follow(), read by this thread
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._final: Dict[str, List[Tuple[str, int]]] = defaultdict(list)  # id -> [(final state, attempt)]
        self.count = 0

    def follow(self, pub_port: int) -> None:
        """Subscribes at `pub_port` from now on (the broker's WELCOME.pub_port)."""
        self._port = pub_port

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)

    def final_events(self) -> Dict[str, List[Tuple[str, int]]]:
        """Job id -> every (final state, attempt) published for it."""
        with self._lock:
            return {k: list(v) for k, v in self._final.items()}

    def run(self) -> None:
        sock, port = None, None
        try:
            while not self._stopping.is_set():
                if self._port != port:
                    if sock is not None:
                        sock.close(linger=0)
                    port = self._port
                    sock = zmq.Context.instance().socket(zmq.SUB)
                    sock.setsockopt(zmq.SUBSCRIBE, b"job.")
                    sock.connect("tcp://127.0.0.1:%d" % port)
                if sock is None:
                    self._stopping.wait(POLL_MS / 1000.0)  # nothing to follow yet
                elif sock.poll(POLL_MS):
                    self._record(sock.recv_multipart())
        finally:
            if sock is not None:
                sock.close(linger=0)

    def _record(self, frames: List[bytes]) -> None:
        event = protocol.decode(frames[1:])  # after the topic frame
        if not event.ok or event.type != MsgType.EVENT_JOB:
            return
        with self._lock:
            self.count += 1
            if event.fields["state"] in FINAL_STATES:
                self._final[event.fields["id"]].append((event.fields["state"], event.fields["attempt"]))
