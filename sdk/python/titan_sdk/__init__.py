# The Titan Python SDK: TitanClient (jobs, logs, TitanStore, DAGs, runs, gates, schedules, YAML pipelines,
# file artifacts), TitanJob, JobInfo, and typed exceptions.
__version__ = "0.1.0"

from .artifacts import DEPLOY_SUCCESS, UPLOAD_SUCCESS  # noqa: E402
from .client import TitanClient  # noqa: E402
from .errors import (  # noqa: E402
    ERROR_CLASSES,
    AuthenticationError,
    ForbiddenError,
    InternalError,
    InvalidError,
    NotFoundError,
    NotLeaderError,
    JobFileNotFoundError,
    JobNotFoundError,
    LocalFileNotFoundError,
    MalformedError,
    NetworkError,
    NoReplyError,
    PipelineError,
    RuntimeNotFoundError,
    TitanConnectionError,
    ValidationError,
    VolumeError,
    WorkflowError,
    WorkflowNotFoundError,
    TitanError,
    TitanNodeError,
    TitanProtocolError,
    TitanTimeoutError,
    TooLargeError,
    UnavailableError,
    UnknownTypeError,
    WrongTypeError,
    WrongVersionError,
)
from .job import FINAL_STATES, JOB_STATES, JobInfo, TitanJob  # noqa: E402
from .job_list import JobPage  # noqa: E402
from .async_submit import SubmitHandle  # noqa: E402

__all__ = [
    "TitanClient", "TitanJob", "JobInfo", "JobPage", "SubmitHandle", "JOB_STATES", "FINAL_STATES", "TitanError", "TitanTimeoutError",
    "TitanProtocolError", "TitanNodeError",
    "MalformedError", "WrongVersionError", "UnknownTypeError", "TooLargeError", "WrongTypeError", "InvalidError",
    "NotFoundError", "NotLeaderError", "UnavailableError", "InternalError", "JobNotFoundError", "JobFileNotFoundError",
    "LocalFileNotFoundError", "PipelineError",
    "TitanConnectionError", "NoReplyError", "ValidationError", "WorkflowError", "WorkflowNotFoundError",
    "RuntimeNotFoundError", "NetworkError", "VolumeError", "ForbiddenError", "AuthenticationError", "ERROR_CLASSES", "UPLOAD_SUCCESS", "DEPLOY_SUCCESS",
]
