"""Run the embedded AWS until interrupted: `python -m local_aws [--port 4566] [--work-dir build/local-aws]`.

Prints the variables that point the AWS CLI, boto3 and Terraform at it. With `--ready-file`, writes them there as
JSON once the server answers, so scripts can wait for it.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from local_aws.server import DEFAULT_REGION, start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4566, help="TCP port on 127.0.0.1 (default 4566)")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path("build/local-aws"),
        help="unpacked Lambda code, model servers, training job logs",
    )
    parser.add_argument("--ready-file", type=Path, help="write the connection variables here once listening")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s local_aws %(levelname)s %(message)s")

    try:
        aws = start(port=args.port, work_dir=args.work_dir.resolve(), region=args.region)
    except OSError as error:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {error}", file=sys.stderr)
        return 1
    for name, value in aws.environment().items():
        print(f"export {name}={value}")
    if args.ready_file:
        args.ready_file.parent.mkdir(parents=True, exist_ok=True)
        args.ready_file.write_text(json.dumps(aws.environment()))
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    aws.stop()
    if args.ready_file:
        args.ready_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
