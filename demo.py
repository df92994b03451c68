"""Draw a digit: a page in the browser that shows what the network sees and thinks (beyond the
report).

    python demo.py                      # the models of outputs/*/model.pth, http://127.0.0.1:8000/
    python demo.py --model FILE --port 8080

Serves Net and NetTransformer checkpoints; writes no files.  Draw with a mouse, a pen or a finger
(or drop a photo); after each stroke the page shows the 28x28 input as the network sees it (Task 1
part G's photo pipeline; Task 3's for Greek letters), the class probabilities, the network's own
maps (Net: conv1 and conv2; the transformer: its patch embeddings and encoder tokens) and a
Grad-CAM map.  A "Camera" switch reads the camera instead: every character in view, boxed, with
its prediction (POST /api/read).  The JSON API is in docs/demo.md.  It starts in a few seconds,
answers a drawing in about 7 ms of server time with Task 1's Net on a 2-core CPU
(benchmarks/bench_demo.py), and runs until Ctrl-C.
"""

import argparse
import itertools
import json
import os
import signal
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import torch

from recognition import cli, demo_models
from recognition.errors import UserError, first_line
from recognition.paths import OUT_DIR, ROOT

HOST, PORT = "127.0.0.1", 8000
WEB_DIR = ROOT / "web"
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),  # URL -> (file in web/, content type)
    "/demo.js": ("demo.js", "text/javascript; charset=utf-8"),
    "/demo.css": ("demo.css", "text/css; charset=utf-8"),
}
MAX_BODY = 5 * 1024 * 1024  # bytes of an uploaded image; larger gets 413
# A body over MAX_BODY is still read (and dropped) up to this size, so that the browser can read the
# 413 rather than see its upload cut off; beyond it the connection is closed.
MAX_DRAIN = 64 * 1024 * 1024
# What each API answers: /api/predict one character (demo_models.analyse); /api/read every
# character on a sheet or camera frame (demo_models.read; ?turn=0: as it is, no quarter turns).
ANALYSES = ("/api/predict", "/api/read")
IDLE_SECONDS = 30  # a client silent this long loses its connection (and its server thread)


def parse_args(argv=None):
    p = cli.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="FILE",
        help="a model to serve first, besides those found in --models-dir "
        "(default: none; outputs/task1/model.pth comes first when found)",
    )
    p.add_argument(
        "--models-dir",
        type=cli.folder,
        default=OUT_DIR,
        metavar="DIR",
        help=f"serve every DIR/*/model.pth that loads (default: {OUT_DIR.relative_to(ROOT)}/)",
    )
    p.add_argument(
        "--host",
        default=HOST,
        help=f"address to listen on; 0.0.0.0 opens it to the network (default: {HOST})",
    )
    p.add_argument(
        "--port",
        type=cli.port,
        default=PORT,
        help=f"port to listen on; 0 picks a free one (default: {PORT})",
    )
    return p.parse_args(argv)


class DemoServer(ThreadingHTTPServer):
    """One thread per connection; the models and page assets are read once, never written after."""

    daemon_threads = True  # Ctrl-C does not wait for open connections

    def __init__(self, address, models, default):
        self.models, self.default = models, default
        # At most one image analysed per core at a time; other requests wait their turn.  More at
        # once would only share the cores, and a burst of large photos would hold all their pixels
        # in memory together.
        self.analysing = threading.BoundedSemaphore(os.cpu_count() or 1)
        self.assets = {
            url: ((WEB_DIR / name).read_bytes(), kind) for url, (name, kind) in ASSETS.items()
        }
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        # A client that went away mid-request; anything else is a bug, still one line, and the
        # server goes on.
        print(
            f"warning: request from {client_address[0]} failed: {first_line(sys.exc_info()[1])}",
            file=sys.stderr,
        )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the page and the benchmark reuse their connection
    timeout = IDLE_SECONDS
    # Headers and body go out in two writes; with Nagle's algorithm the second waits for the
    # client's delayed ACK, 40 ms per answer on Linux.
    disable_nagle_algorithm = True

    def log_request(self, code="-", size="-"):
        pass  # one line per drawing would drown the terminal; errors are still printed

    def send_body(self, status, body, kind, extra=()):
        self.send_response(status)
        for name, value in (
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *extra,
        ):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, obj, marks=None):
        """Send `obj` as JSON.  `marks` [('start', t), (stage, t at its end), ...] (perf_counter
        times) go out in a Server-Timing header: the total since the start first, then each stage's
        time, the JSON encoding last."""
        body = json.dumps(obj).encode()
        extra = []
        if marks:
            marks = marks + [("json", time.perf_counter())]
            times = [("total", marks[-1][1] - marks[0][1])] + [
                (name, end - begin) for (_, begin), (name, end) in itertools.pairwise(marks)
            ]
            extra = [
                ("Server-Timing", ", ".join(f"{name};dur={1000 * t:.2f}" for name, t in times))
            ]
        self.send_body(status, body, "application/json", extra)

    def send_error_json(self, status, message):
        self.send_json(status, {"error": message, "status": int(status)})

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/api/models":
            models = [e.describe() for e in self.server.models.values()]
            self.send_json(
                HTTPStatus.OK,
                {
                    "models": models,
                    "default": self.server.default,
                    "max_bytes": MAX_BODY,
                    "not_sure_below": demo_models.NOT_SURE,
                },
            )
        elif path in self.server.assets:
            self.send_body(HTTPStatus.OK, *self.server.assets[path])
        else:
            self.send_error_json(HTTPStatus.NOT_FOUND, f"no page {path}")

    def do_POST(self):
        # The server's time per prediction: read, wait, analyse, json (Server-Timing).
        started = time.perf_counter()
        url = urlsplit(self.path)
        model_id = parse_qs(url.query).get("model", [self.server.default])[0]
        data, status, message = self.read_body()
        if data is None:
            return self.send_error_json(status, message)
        if url.path not in ANALYSES:
            return self.send_error_json(
                HTTPStatus.NOT_FOUND,
                f"no API {url.path}: POST an image to /api/predict (one character) or /api/read "
                "(a sheet, a camera frame)",
            )
        if model_id not in self.server.models:
            return self.send_error_json(
                HTTPStatus.NOT_FOUND, f"no model {model_id!r}: see GET /api/models"
            )
        read = time.perf_counter()
        try:
            with self.server.analysing:
                waited = time.perf_counter()
                entry = self.server.models[model_id]
                if url.path == "/api/read":
                    turn = parse_qs(url.query).get("turn", ["1"])[0] != "0"
                    result = demo_models.read(entry, data, turn)
                else:
                    result = demo_models.analyse(entry, data)
        except UserError as e:  # not an image, no ink, too many pixels
            return self.send_error_json(HTTPStatus.BAD_REQUEST, str(e))
        # A bug: one line in the log and a 500, and the server keeps serving (ruff's BLE001 is for
        # code that would hide the failure; this one reports it and must outlive it).
        except Exception as e:  # noqa: BLE001
            print(f"warning: {model_id}: {type(e).__name__}: {first_line(e)}", file=sys.stderr)
            return self.send_error_json(
                HTTPStatus.INTERNAL_SERVER_ERROR, "the server failed on this image"
            )
        marks = [
            ("start", started),
            ("read", read),
            ("wait", waited),
            ("analyse", time.perf_counter()),
        ]
        self.send_json(HTTPStatus.OK, result, marks)

    def read_body(self):
        """(bytes, None, None), or (None, status, message) for a body that is missing, malformed
        or too big."""
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True  # the body's end is unknown: the connection is done
            return None, HTTPStatus.LENGTH_REQUIRED, "send the image with a Content-Length header"
        if length < 0:
            self.close_connection = True
            return None, HTTPStatus.BAD_REQUEST, "negative Content-Length"
        if length > MAX_BODY:
            self.drain(length)
            return (
                None,
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the image is {length / 2**20:.1f} MB; the limit is {MAX_BODY / 2**20:.0f} MB",
            )
        data = self.rfile.read(length)
        if len(data) < length:
            self.close_connection = True
            return None, HTTPStatus.BAD_REQUEST, "the body ended before its Content-Length"
        return data, None, None

    def drain(self, length):
        """Read and drop a refused body, so that the client gets to read the answer."""
        if length > MAX_DRAIN:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)


def make_server(models, default, host=HOST, port=PORT):
    """A DemoServer bound to (host, port), not yet serving; port 0 picks a free port."""
    # One torch thread per request: a 28x28 image gains nothing from intra-op threads, and with
    # several requests at once they would only fight over the cores (4x slower per request with 2).
    torch.set_num_threads(1)
    return DemoServer((host, port), models, default)


def stop_on_sigterm(*_):
    raise KeyboardInterrupt  # `kill` stops the server the way Ctrl-C does


def main(argv=None):
    args = parse_args(argv)
    # Files under --models-dir that do not load are skipped with a warning.
    models, default = demo_models.find_models(args.models_dir, args.model)
    server = make_server(models, default, args.host, args.port)
    serve(server, models)


def serve(server, models):
    """Serve until Ctrl-C or `kill`, saying what is served where."""
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    # A background job of a non-interactive shell starts with Ctrl-C ignored, and Python keeps it
    # so: give Ctrl-C back its default.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    host, port = server.server_address[:2]
    print(f"models: {', '.join(f'{e.id} ({e.kind})' for e in models.values())}")
    print(f"serving http://{host}:{port}/  (Ctrl-C stops)", flush=True)
    t0 = time.perf_counter()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print(f"\nstopped after {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        server.server_close()


if __name__ == "__main__":
    cli.run(main)
