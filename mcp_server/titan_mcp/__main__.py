# `python -m titan_mcp` (what `titan mcp` runs): the MCP server for the broker at --host/--port, acting with
# --credentials (else TITAN_CREDENTIALS, else the credential `titan up` made for that broker), over stdio
# (stdout carries only MCP messages; diagnostics go to stderr) or, with --http ADDR:PORT, over streamable HTTP.
import argparse
import os
import sys

import anyio
from titan_sdk import TitanClient, TitanError

from . import http
from .server import make_server


def parse(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="titan mcp", description="Titan's Model Context Protocol server.")
    p.add_argument("--host", default=os.environ.get("TITAN_HOST") or "127.0.0.1",
                   help="the broker's host; brokers sharing a PostgreSQL journal: all of them, comma-separated "
                   "(host or host:port; the leader is found)")
    p.add_argument("--port", type=int, default=int(os.environ.get("TITAN_PORT") or 9090), help="the broker's port")
    p.add_argument("--credentials", default=os.environ.get("TITAN_CREDENTIALS") or None,
                   help="the credential this server acts with (default: the one `titan up` made for --host/--port)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds to wait for the broker's answer to each call (default: TITAN_TIMEOUT, else the SDK's)")
    p.add_argument("--http", metavar="ADDR:PORT", default=None,
                   help="serve streamable HTTP at http://ADDR:PORT/mcp instead of stdio (ADDR defaults to 127.0.0.1)")
    args = p.parse_args(argv)
    if args.timeout is not None and args.timeout <= 0:
        p.error("--timeout %g is not a positive number of seconds" % args.timeout)
    if args.http is not None:
        host, sep, port = args.http.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
            p.error("--http %r is not ADDR:PORT (e.g. 127.0.0.1:8765)" % args.http)
        args.http = (host.strip("[]") or "127.0.0.1", int(port))
    return args


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        client = TitanClient(host=args.host, port=args.port, credentials=args.credentials, timeout=args.timeout)
    except (TitanError, ValueError) as e:  # a credential that cannot be read: say which and stop
        print("titan mcp: %s" % e, file=sys.stderr)
        return 2
    server = make_server(client)
    try:
        if args.http is None:
            anyio.run(server.run_stdio_async)
        else:
            anyio.run(http.serve, server, *args.http)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
