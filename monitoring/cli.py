"""`python -m monitoring`: build a baseline, check captures against one, or run either engine's check now.

    python -m monitoring baseline --images data/test --endpoint <endpoint> --output baseline/
    python -m monitoring baseline --images data/test --answers answers.json --output baseline/
    python -m monitoring check --baseline baseline/ --capture capture.jsonl [--output report/]
    python -m monitoring run-now --engine scheduled_check --schedule <name>
    python -m monitoring run-now --engine model_monitor --schedule <name> [--window PT1H]

`baseline` sends the images through a live endpoint (as the pipeline's write_baseline step does) or reads the
endpoint's recorded answers ({"<image key>": <the endpoint's JSON answer>}). `run-now` uses the AWS
credentials and region of the environment (AWS_ENDPOINT_URL points it at the embedded AWS).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from monitoring.baseline import (
    BaselineError,
    ask_endpoint,
    build_baseline,
    list_images,
    load_answers,
    lookup_answer,
    read_baseline,
    rows_from_answers,
    write_baseline,
    write_json,
)
from monitoring.check import UnsupportedConstraint, check, exit_message, violations_document
from monitoring.record_preprocessor import capture_records, record_rows
from monitoring.run_now import ENGINES, RunNowError, run_now


class CliError(Exception):
    """A one-line reason the command failed."""


def _client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # A check runs for minutes: wait for the function's answer (Lambda allows 15 minutes).
    return boto3.client(service, config=Config(read_timeout=900, retries={"max_attempts": 2, "mode": "standard"}))


def _baseline(args: argparse.Namespace) -> int:
    if not args.images.is_dir():
        raise CliError(f"{args.images} is not a folder")
    paths = list_images(args.images, args.list)
    if not paths:
        raise CliError(f"no PNG or JPEG images under {args.images}")
    print(f"==> {len(paths)} images from {args.images}", flush=True)
    images = [(p.relative_to(args.images).as_posix(), p.read_bytes()) for p in paths]
    if args.endpoint:
        answers = list(ask_endpoint(_client("sagemaker-runtime"), args.endpoint, images))
    else:
        recorded = load_answers(args.answers)
        answers = [(key, data, lookup_answer(recorded, key)) for key, data in images]
    statistics, constraints = build_baseline(rows_from_answers(answers))
    for path in write_baseline(args.output, statistics, constraints):
        print(f"wrote {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    statistics, constraints = read_baseline(args.baseline)
    try:
        lines = [line for path in args.capture for line in path.read_text(encoding="utf-8").splitlines()]
        rows = [row for record in capture_records(lines) for row in record_rows(record)]
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read the captures: {error}") from error
    try:
        violations = check(statistics, constraints, rows)
    except UnsupportedConstraint as error:
        raise CliError(str(error)) from error
    if args.output:
        from monitoring.baseline import compute_statistics

        write_json(args.output / "statistics.json", compute_statistics(rows))
        write_json(args.output / "constraint_violations.json", violations_document(violations))
    for violation in violations:
        print(f"{violation['constraint_check_type']:<24} {violation['feature_name']:<22} {violation['description']}")
    print(f"{len(rows)} records; {exit_message(violations)}")
    return 0


def _run_now(args: argparse.Namespace) -> int:
    options = {"window": args.window, "progress": print} if args.engine == "model_monitor" else {}
    result = run_now(args.engine, args.schedule, _client, **options)
    print(json.dumps(result, indent=2, default=str))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m monitoring", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)

    baseline = commands.add_parser("baseline", help="statistics.json and constraints.json of a folder of images")
    baseline.add_argument("--images", type=Path, required=True, help="folder of PNG/JPEG images (with the .lst)")
    baseline.add_argument("--list", type=Path, help="the .lst file to use (default: every *.lst in --images)")
    source = baseline.add_mutually_exclusive_group(required=True)
    source.add_argument("--endpoint", help="send the images through this SageMaker endpoint")
    source.add_argument("--answers", type=Path, help="JSON: image key -> the endpoint's answer")
    baseline.add_argument("--output", type=Path, required=True, help="folder for the two files")
    baseline.set_defaults(run=_baseline)

    checking = commands.add_parser("check", help="check data-capture files against a baseline")
    checking.add_argument("--baseline", type=Path, required=True, help="folder with statistics/constraints.json")
    checking.add_argument("--capture", type=Path, nargs="+", required=True, help="data-capture .jsonl files")
    checking.add_argument("--output", type=Path, help="folder for statistics.json/constraint_violations.json")
    checking.set_defaults(run=_check)

    now = commands.add_parser("run-now", help="run an engine's check now (on AWS or the embedded AWS)")
    now.add_argument("--engine", choices=ENGINES, required=True, help="terraform output monitoring_engine")
    now.add_argument("--schedule", required=True, help="terraform output monitoring_schedule_name")
    now.add_argument("--window", default="PT1H", help="model_monitor: the data to analyse, back from now (PT1H)")
    now.set_defaults(run=_run_now)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (CliError, BaselineError, RunNowError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
