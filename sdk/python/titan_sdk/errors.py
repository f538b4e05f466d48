# Exceptions the SDK raises: one class per ERROR code of schemas/protocol.yaml, plus timeouts
# (nothing answered), protocol violations (something answered, but not in Titan's protocol), and the
# job API's own cases (an unknown job id, a job file found neither here nor on the broker, a local path
# that does not exist, a wrong pipeline file).
import builtins
from typing import Dict, Optional, Type


class TitanError(Exception):
    """Base of every exception the Titan SDK raises (Joblet's JobletException)."""


class TitanTimeoutError(TitanError, TimeoutError):
    """A deadline passed: no reply arrived (NoReplyError), or what was waited for did not happen in time."""


class TitanConnectionError(TitanError, builtins.ConnectionError):
    """The node could not be reached (Joblet's ConnectionError)."""


class NoReplyError(TitanTimeoutError, TitanConnectionError):
    """No reply arrived before the deadline: the node is not running, not reachable, or overloaded. Both a
    TitanTimeoutError (as before) and a TitanConnectionError."""


class TitanProtocolError(TitanError):
    """The peer answered with frames that do not follow the Titan protocol (or not the expected reply)."""


class TitanNodeError(TitanError):
    """The node answered ERROR. `code` is the schema's error code, `reason` the node's explanation."""

    code = "UNKNOWN"

    def __init__(self, reason: str, code: str = ""):
        if code:
            self.code = code
        self.reason = reason
        super().__init__("%s: %s" % (self.code, reason))


class MalformedError(TitanNodeError):
    code = "MALFORMED"


class WrongVersionError(TitanNodeError):
    code = "WRONG_VERSION"


class UnknownTypeError(TitanNodeError):
    code = "UNKNOWN_TYPE"


class TooLargeError(TitanNodeError):
    code = "TOO_LARGE"


class WrongTypeError(TitanNodeError):
    code = "WRONG_TYPE"


class InvalidError(TitanNodeError):
    code = "INVALID"


class JobNotFoundError(InvalidError):
    """The broker knows no job with this id (the broker answers INVALID, or JOB_GET found nothing)."""


# Joblet's ValidationError ("you passed invalid parameters") is the broker's INVALID.
ValidationError = InvalidError


class WorkflowError(TitanError):
    """A workflow (a DAG submitted as Joblet's run_workflow) could not be run or read."""


class WorkflowNotFoundError(WorkflowError, InvalidError):
    """The broker knows no DAG (workflow) with this id."""

    code = "INVALID"

    def __init__(self, reason: str):
        InvalidError.__init__(self, reason)


class NetworkError(TitanError):
    """A network was asked for: Titan runs jobs as processes on their worker's network and does not
    isolate networks (docs/job-control.md, "Networks")."""


class VolumeError(InvalidError):
    """A volume could not be created or removed (the broker's reason says why: a name in use, a bad size, no
    live worker, in use by unfinished jobs)."""




class PipelineError(TitanError):
    """A YAML pipeline file is wrong. The message is "<file>:<line>: <what>" ("<file>: <what>" when no line
    applies, line 0: the file cannot be read); `file`, `line` and `what` hold the parts. Raised before
    anything is sent."""

    def __init__(self, file: str, line: int, what: str):
        super().__init__("%s:%d: %s" % (file, line, what) if line > 0 else "%s: %s" % (file, what))
        self.file = file
        self.line = line
        self.what = what


class NotFoundError(TitanNodeError):
    """The named artifact (or other thing a request names) does not exist."""
    code = "NOT_FOUND"


class RuntimeNotFoundError(NotFoundError):
    """No live worker offers the named runtime (`titan worker --runtime NAME=PATH` adds one)."""


class UnavailableError(TitanNodeError):
    """The node cannot serve the request now and did not apply it: a storage failure, or its disk is full
    (the reason then names the folder to free space in). A node whose disk is full refuses writes and keeps
    serving reads, and resumes by itself once space returns: the request may be sent again then."""
    code = "UNAVAILABLE"


class NotLeaderError(TitanNodeError):
    """The broker is a standby (its PostgreSQL journal's lease is held by another broker) and did not apply the
    request. `leader` is the active broker's address ("host:port"), or None while a standby takes over. A
    TitanClient given every broker (TITAN_HOST=a,b) follows it by itself."""
    code = "NOT_LEADER"

    def __init__(self, reason: str, code: str = "", leader: Optional[str] = None):
        super().__init__(reason, code)
        self.leader = leader


class InternalError(TitanNodeError):
    code = "INTERNAL"


class ForbiddenError(TitanNodeError):
    """The credential's principal has no role that allows the request (the reason names the principal,
    its role and the permission needed)."""
    code = "FORBIDDEN"


class AuthenticationError(TitanError):
    """The node refused the connection's credential (none, an unknown key, a revoked principal, or the
    wrong server key), or speaks CURVE where this client does not (or the reverse)."""


class LocalFileNotFoundError(TitanError, FileNotFoundError):
    """A path given to the SDK (a file to upload, a folder to zip) does not exist on this machine.
    `filename` holds the path."""

    def __init__(self, message: str, filename: str):
        super().__init__(message)
        self.message = message
        self.filename = filename

    def __str__(self) -> str:  # OSError would render "[Errno None] None: 'path'"
        return self.message


class JobFileNotFoundError(LocalFileNotFoundError, NotFoundError):
    """A TitanJob's `filename` is neither a file on this machine nor deployed on the broker (for an archive
    job: its project zip); the broker answered NOT_FOUND. `filename` holds the job's filename, `reason`
    the broker's explanation. Both a FileNotFoundError and a NotFoundError."""

    def __init__(self, message: str, filename: str, reason: str = ""):
        LocalFileNotFoundError.__init__(self, message, filename)
        self.reason = reason or message


ERROR_CLASSES: Dict[str, Type[TitanNodeError]] = {
    cls.code: cls
    for cls in (MalformedError, WrongVersionError, UnknownTypeError, TooLargeError, WrongTypeError, InvalidError,
                NotFoundError, UnavailableError, InternalError, ForbiddenError, NotLeaderError)
}


def error_from_reply(code: str, reason: str, leader: Optional[str] = None) -> TitanNodeError:
    """The exception for an ERROR reply; a code this SDK does not know gives a plain TitanNodeError."""
    if code == NotLeaderError.code:
        return NotLeaderError(reason, leader=leader)
    cls = ERROR_CLASSES.get(code)
    return cls(reason) if cls is not None else TitanNodeError(reason, code)
