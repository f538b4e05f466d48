# The dashboard's options: a plain struct with defaults, filled from the command line in __main__.py only.
from dataclasses import dataclass
from typing import Optional

DEFAULT_LISTEN = "127.0.0.1:9095"


@dataclass
class Options:
    listen_host: str = "127.0.0.1"  # loopback only unless told otherwise
    listen_port: int = 9095
    broker_host: str = "127.0.0.1"
    broker_port: int = 9090
    credentials: Optional[str] = None  # the dashboard's own credential file (else the SDK finds one)
    call_timeout_s: float = 4.0  # one broker request; past it the broker counts as unavailable
    health_interval_s: float = 2.0  # how often the broker is asked HELLO (down/up, its event port)
    session_ttl_s: float = 12 * 3600.0
    login_token: Optional[str] = None  # the one-time token of the printed URL (made at start when None)
    log_tail_bytes: int = 64 * 1024  # a job page shows this much of a log's end; the rest is a download
    metrics_token: Optional[str] = None  # /metrics wants it as a bearer token (None: open, on loopback only)
    ready_timeout_s: float = 2.0  # /readyz: how long the broker and the store may take to answer


def parse_listen(value: str) -> tuple:
    """"ADDR:PORT" (or ":PORT", or "[v6]:PORT") -> (addr, port); ValueError says what is wrong."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port
        raise ValueError("--listen %r is not ADDR:PORT (e.g. 127.0.0.1:9095)" % value)
    return (host.strip("[]") or "127.0.0.1"), int(port)


def read_token(path: str) -> str:
    """The bearer token in file `path` (its first line, stripped); ValueError says what is wrong."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.readline().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError("--metrics-token-file %s cannot be read: %s" % (path, e)) from None
    if not token:
        raise ValueError("--metrics-token-file %s is empty: put the token on its first line" % path)
    return token
