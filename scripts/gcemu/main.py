"""Command line: parses the options of scripts/emulator, builds the app and
serves until SIGTERM/SIGINT. The first stdout line is the base URL."""
import argparse
import os
import signal
import sys
import tempfile
import threading

from .app import App
from .gcs import valid_bucket_name
from .server import Server
from . import tlscert

FAULT_HELP = """fault rules (POST /_emulator/faults, JSON):
  method   HTTP method to match (optional, default any)
  path     Python regex searched in the request path+query
  times    number of matching requests to hit (default 1, -1 = forever)
  internal true to also hit the emulator's own job-runner GCS traffic
  kind:
    status        + status N [+ retry_after S] [+ body JSON]
    reset         close the connection without a reply (RST)
    stall         + seconds N: wait before answering
    stall_body    + after_bytes K + seconds N: send headers and K body bytes, stall, go on
    truncate      + after_bytes K: send K body bytes (full Content-Length), then close
    ignore_range  answer a ranged GET with 200 and the whole object
    wrong_range   answer a ranged GET with 206 but range/body shifted by +1 byte
    slow          + bytes_per_second N
    lose_response + status N (default 503) or reset: true: perform, then fail the reply
"""


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="emulator", description="Local emulator of Vertex AI batch prediction, "
        "Cloud Storage and OAuth on one port.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=FAULT_HELP)
    ap.add_argument("--port", type=int, default=0, help="port (0 = pick a free one)")
    ap.add_argument("--data", help="data directory (default: a new temp dir)")
    ap.add_argument("--project-number", type=int, default=123456789012)
    ap.add_argument("--bucket", action="append", default=[],
                    help="bucket to create at start (repeatable)")
    ap.add_argument("--time-scale", type=float, default=1.0,
                    help="multiplies every job phase duration; 0 = instant")
    ap.add_argument("--pending-seconds", type=float, default=0.5)
    ap.add_argument("--queued-seconds", type=float, default=0.5)
    ap.add_argument("--row-seconds", type=float, default=0.2,
                    help="processing time per row while RUNNING")
    ap.add_argument("--export-interval", type=float, default=0.5,
                    help="seconds between incremental exports while RUNNING")
    ap.add_argument("--require-auth", action="store_true",
                    help="API calls need a bearer token issued by this emulator")
    ap.add_argument("--token-lifetime", type=int, default=3600)
    ap.add_argument("--gcs-endpoint", default=None,
                    help="GCS server the job runner uses (default: this emulator)")
    ap.add_argument("--pessimistic", action="store_true",
                    help="play the unkind answer of every behaviour Google does "
                    "not document (README: Unknowns)")
    ap.add_argument("--latency-ms", type=float, default=0.0,
                    help="WAN model: delay every response's status line by N ms")
    ap.add_argument("--stream-bytes-per-second", type=int, default=0,
                    help="WAN model: throttle each response body to N bytes/s "
                    "(one TCP stream's limit; 0 = off)")
    ap.add_argument("--crud-quota-per-minute", type=int, default=0,
                    help="answer 429 RESOURCE_EXHAUSTED to Vertex get/list/cancel/"
                    "delete past N in a rolling minute per project and location "
                    "(0 = no quota)")
    ap.add_argument("--create-quota-per-minute", type=int, default=0,
                    help="the same for Vertex creates")
    ap.add_argument("--tls", action="store_true",
                    help="serve HTTPS with a certificate for 127.0.0.1 and localhost, "
                    "signed by a CA written to DATA/ca.pem (made with openssl)")
    ap.add_argument("--quiet", action="store_true", help="no request log on stderr")
    ap.add_argument("--help-faults", action="store_true",
                    help="describe fault rules and exit")
    args = ap.parse_args(argv)
    for b in args.bucket:
        if not valid_bucket_name(b):
            # argparse's convention: one line, status 2 (no traceback)
            ap.exit(2, "emulator: invalid --bucket name %r: 3-63 characters "
                    "of a-z, 0-9, '-', '_' and '.', starting and ending "
                    "with a letter or digit\n" % b)
    return args


def main(argv):
    args = parse_args(argv)
    if args.help_faults:
        print(FAULT_HELP)
        return 0
    data = args.data or tempfile.mkdtemp(prefix="gcemu-")
    os.makedirs(data, exist_ok=True)
    app = App(data, project_number=args.project_number, buckets=args.bucket,
              time_scale=args.time_scale, pending_seconds=args.pending_seconds,
              queued_seconds=args.queued_seconds, row_seconds=args.row_seconds,
              export_interval=args.export_interval, require_auth=args.require_auth,
              token_lifetime=args.token_lifetime, gcs_endpoint=args.gcs_endpoint,
              pessimistic=args.pessimistic,
              latency_ms=args.latency_ms,
              stream_bytes_per_second=args.stream_bytes_per_second,
              crud_quota_per_minute=args.crud_quota_per_minute,
              create_quota_per_minute=args.create_quota_per_minute)
    ctx = None
    if args.tls:
        paths = tlscert.ensure_certs(data)
        ctx = tlscert.server_context(paths)
        app.client_ssl = tlscert.client_context(paths)
    server = Server(("127.0.0.1", args.port), app, quiet=args.quiet, ssl_context=ctx)
    app.started(server.base_url)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                         name="http", daemon=True)
    t.start()
    sys.stdout.write(server.base_url + "\n")
    sys.stdout.flush()
    if not args.quiet:
        sys.stderr.write("gcemu: serving %s, data in %s\n" % (server.base_url, data))
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0
