# The Titan Python SDK: TitanClient (cluster and TitanStore access), TitanJob, and typed exceptions.
__version__ = "0.1.0"

from .client import TitanClient  # noqa: E402
from .errors import (  # noqa: E402
    ERROR_CLASSES,
    InternalError,
    InvalidError,
    MalformedError,
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
from .job import TitanJob  # noqa: E402

__all__ = [
    "TitanClient", "TitanJob", "TitanError", "TitanTimeoutError", "TitanProtocolError", "TitanNodeError",
    "MalformedError", "WrongVersionError", "UnknownTypeError", "TooLargeError", "WrongTypeError", "InvalidError",
    "UnavailableError", "InternalError", "ERROR_CLASSES",
]
