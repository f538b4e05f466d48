# `python -m titan_dashboard` (what `titan dashboard` and `titan up` run): parses the options, prints
# "READY dashboard <URL with the one-time login token>" on stdout, and serves until SIGINT/SIGTERM.
import argparse
import asyncio
import os
import sys

import uvicorn

from .app import make_app
from .options import DEFAULT_LISTEN, Options, parse_listen, read_token


def parse(argv) -> Options:
    p = argparse.ArgumentParser(prog="titan dashboard", description="Titan's operator dashboard (a web UI).")
    p.add_argument("--listen", default=DEFAULT_LISTEN, help="ADDR:PORT to serve on (default %(default)s)")
    p.add_argument("--host", default=os.environ.get("TITAN_HOST") or "127.0.0.1",
                   help="the broker's host; brokers sharing a PostgreSQL journal: all of them, comma-separated "
                   "(host or host:port; the leader is found)")
    p.add_argument("--port", type=int, default=int(os.environ.get("TITAN_PORT") or 9090), help="the broker's port")
    p.add_argument("--credentials", default=os.environ.get("TITAN_CREDENTIALS") or None,
                   help="the dashboard's own credential (default: the one `titan up` made for --host/--port)")
    p.add_argument("--metrics-token-file", default=os.environ.get("TITAN_METRICS_TOKEN_FILE") or None,
                   help="a file holding the bearer token /metrics asks for (needed when --listen is not loopback)")
    p.add_argument("--ready-timeout", type=float, default=2.0,
                   help="seconds /readyz waits for the broker and the store (default %(default)s)")
    args = p.parse_args(argv)
    try:
        host, port = parse_listen(args.listen)
        token = read_token(args.metrics_token_file) if args.metrics_token_file else None
    except ValueError as e:
        p.error(str(e))
    return Options(listen_host=host, listen_port=port, broker_host=args.host, broker_port=args.port,
                   credentials=args.credentials, login_token=os.environ.pop("TITAN_DASHBOARD_TOKEN", None) or None,
                   metrics_token=token, ready_timeout_s=args.ready_timeout)


class Server(uvicorn.Server):
    """Prints the READY line once the socket is bound (the port is known even when --listen said :0)."""

    async def startup(self, sockets=None):
        await super().startup(sockets)
        if self.started:
            port = self.servers[0].sockets[0].getsockname()[1]
            host = self.config.host
            shown = "[%s]" % host if ":" in host else host
            token = self.config.app.state.sessions.login_token
            print("READY dashboard http://%s:%d/login?token=%s" % (shown, port, token), flush=True)


def main(argv=None) -> int:
    opts = parse(sys.argv[1:] if argv is None else argv)
    try:
        app = make_app(opts)
    except Exception as e:  # a credential that cannot be read: say which and stop
        print("titan dashboard: %s" % e, file=sys.stderr)
        return 2
    config = uvicorn.Config(app, host=opts.listen_host, port=opts.listen_port, log_level="warning",
                            access_log=False, lifespan="on")
    asyncio.run(Server(config).serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
