# The Joblet-shaped API (seed 003, docs/joblet.md): a Joblet program runs on Titan with its import changed
# from `joblet` to `titan_sdk.joblet`. JobletClient is a TitanClient that takes Joblet's constructor
# arguments; its services (jobs, volumes, runtimes, monitoring) and health_check() are TitanClient's own,
# and the exceptions carry Joblet's names with TitanError as their base.
import builtins
from typing import Any, Dict, Optional, Union

from .client import TitanClient
from .credentials import Credential, load_credential
from .errors import (  # noqa: F401 (re-exported under Joblet's names)
    AuthenticationError,
    JobNotFoundError,
    NetworkError,
    RuntimeNotFoundError,
    TitanConnectionError,
    TitanError,
    TitanTimeoutError,
    ValidationError,
    VolumeError,
    WorkflowError,
    WorkflowNotFoundError,
)
from .joblet_jobs import JOBLET_STATUS, joblet_status  # noqa: F401

JobletException = TitanError
ConnectionError = TitanConnectionError  # noqa: A001 (Joblet's name)
TimeoutError = TitanTimeoutError  # noqa: A001


class JobletClient(TitanClient):
    """A TitanClient built from Joblet's arguments. `host` and `port` name the Titan broker (port None: TITAN_PORT,
    else 9090; Joblet's 50051 is its own server's). Titan authenticates with CURVE credential files
    (`titan keys add`), not TLS certificates: `client_key_path` (or `credentials`) may name a Titan credential file,
    and without one the usual search applies (TITAN_CREDENTIALS, then the cluster `titan up` linked).
    `ca_cert_path` and `client_cert_path` have no Titan meaning and must be None or point to the same credential;
    a PEM certificate or key raises AuthenticationError saying so. `options` takes "timeout" (seconds)."""

    def __init__(self, host: str = "localhost", port: Optional[int] = None, ca_cert_path: Optional[str] = None,
                 client_cert_path: Optional[str] = None, client_key_path: Optional[str] = None,
                 options: Optional[Dict[str, Any]] = None, *, credentials: Union[str, Credential, None] = None,
                 timeout: Optional[float] = None):
        if credentials is None and client_key_path:
            credentials = _titan_credential(client_key_path)
        for path in (ca_cert_path, client_cert_path):
            if path and path != client_key_path:
                _titan_credential(path)  # a PEM certificate is refused with what to use instead
        options = dict(options or {})
        if timeout is None and "timeout" in options:
            timeout = float(options["timeout"])
        super().__init__(host=host, port=port, timeout=timeout, credentials=credentials)


def _titan_credential(path: str) -> Credential:
    try:
        with builtins.open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        raise AuthenticationError("cannot read credential %s: %s" % (path, e.strerror)) from None
    if head.lstrip().startswith(b"-----BEGIN"):
        raise AuthenticationError(
            "%s is a TLS certificate or key (PEM); Titan authenticates with CURVE credential files: make one with "
            "`titan keys add NAME --role submitter` and pass its path as client_key_path (or credentials=)" % path)
    return load_credential(path)


__all__ = [
    "JobletClient", "JobletException", "ConnectionError", "AuthenticationError", "JobNotFoundError",
    "WorkflowNotFoundError", "WorkflowError", "RuntimeNotFoundError", "NetworkError", "VolumeError", "ValidationError",
    "TimeoutError", "JOBLET_STATUS", "joblet_status",
]
