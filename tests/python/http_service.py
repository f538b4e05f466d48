# A service for tests of services: an HTTP server that answers every GET with its pid, so a test tells a
# restarted process from the one before. Deployed through the SDK; waited for with the broker's JOB_WAIT.
import socket
import urllib.request
from pathlib import Path

from cluster import unique_id, write_script
from titan_sdk import TitanJob

DEADLINE_S = 60

# An HTTP server on 127.0.0.1:$1 answering every GET with its pid.
SERVE_PY = """
import http.server, os, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(os.getpid()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing is bound to (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deploy_http_service(client, folder: Path, prefix: str = "api"):
    """(id, port) of a new HTTP service, once it is ready."""
    port = free_port()
    service_id = unique_id(prefix)
    script = write_script(folder, "serve.py", SERVE_PY)
    client.submit_job(TitanJob(service_id, script, job_type="SERVICE", port=port, args=str(port)))
    assert client.wait(service_id, timeout=DEADLINE_S) == "RUNNING"
    return service_id, port


def answering_pid(port: int) -> int:
    """The pid of the process that answers on 127.0.0.1:port."""
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10) as answer:
        return int(answer.read())
