"""Production server: `python -m gaze.serve` runs GAZE under waitress.

One process with several threads: the job queue lives in the process, so
GAZE must never run as several worker processes.
"""
from __future__ import annotations

import argparse
import logging

THREADS = 8
log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gaze.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="listen address (default: GAZE_HOST)")
    parser.add_argument("--port", type=int, help="port (default: GAZE_PORT)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"request threads (default {THREADS})")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from waitress import serve

    from . import create_app
    app = create_app()
    host = args.host or app.config["HOST"]
    port = args.port or app.config["PORT"]
    log.info("GAZE serving on http://%s:%s with %d threads", host, port, args.threads)
    serve(app, host=host, port=port, threads=args.threads, ident="GAZE")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
