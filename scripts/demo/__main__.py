"""`make demo`: the whole workflow on the embedded AWS, one progress line per stage, a report at the end.

Stages: build the Lambda zips → start the embedded AWS → terraform plan and apply (phase 1: everything but what
needs a live endpoint), in the background → ETL into the data bucket, once that bucket is applied → the training
pipeline (real training → evaluate → gate → deploy), once its state machine is applied → every test image through
the inference state machine, started at a steady rate as a load test → a reviewer decides a few queued
images in the review console (headless chromium) → terraform apply (phase 2: monitoring
schedule and autoscaling on the live endpoint) → a monitoring pass on the captured traffic → a second pass on
darkened images, which must report violations and start a retrain, both with the scheduled_check engine →
terraform apply (phase 3: monitoring_engine = model_monitor) → the same two windows checked by Model Monitor,
the darkened one again detected → report → tear down (KEEP=1 keeps the stack up). Each pass is started with
"run now" (monitoring.run_now): the embedded AWS never fires schedules.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageEnhance

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_ARCHIVE = REPO_ROOT.parent / "shared" / "data" / "cifar-100-bikes-python.tar.gz"
DATASET_PREFIX = "datasets/cifar-bikes"
# The demo starts each stage as soon as what it uses exists. The ETL waits for the data bucket with its encryption,
# versioning, access block and policy, but not for the lifecycle rules: they apply to objects whatever their age,
# and the AWS provider spends ~50 s confirming them. The pipeline waits for its own module and the ETL.
ETL_NEEDS = ("module.storage.",)
ETL_DOES_NOT_NEED = "aws_s3_bucket_lifecycle_configuration"
PIPELINE_NEEDS = ("module.training_pipeline.", "module.write_baseline.", "module.endpoint.")
API_IMAGES = 10  # test images the demo also sends through the HTTPS API
REVIEWS = 5  # queued images the demo's reviewer decides in the review console
ROUTE_OF = {"bicycle": "nearby", "motorcycle": "distant"}  # label -> route, as Terraform's label_routes


class DemoError(Exception):
    """A stage of the demo failed; the message says which and why."""


@dataclass
class Stages:
    """Progress lines and timings; a stage may run in the background while the next ones start."""

    total: int
    timings: dict[str, float] = field(default_factory=dict)
    started: int = 0

    def _begin(self, name: str, note: str = "") -> tuple[int, float]:
        self.started += 1
        print(f"[{self.started}/{self.total}] {name}{note} ...", flush=True)
        return self.started, time.monotonic()

    def _end(self, number: int, name: str, began: float) -> None:
        self.timings[name] = round(time.monotonic() - began, 2)
        print(f"[{number}/{self.total}] {name} done in {self.timings[name]:.1f} s", flush=True)

    def run(self, name: str, action: Callable[[], Any], note: str = "") -> Any:
        number, began = self._begin(name, note)
        try:
            result = action()
        except Exception as error:
            raise DemoError(f"stage '{name}' failed: {error}") from error
        self._end(number, name, began)
        return result

    def background(self, name: str, action: Callable[[], Any]) -> Callable[[], Any]:
        """Start a stage in a thread; the returned function waits for it and gives its result."""
        number, began = self._begin(name, " (in the background)")
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["result"] = action()
            except Exception as error:  # handed to the waiting thread
                outcome["error"] = error
            else:
                self._end(number, name, began)

        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()

        def join() -> Any:
            thread.join()
            if "error" in outcome:
                raise DemoError(f"stage '{name}' failed: {outcome['error']}") from outcome["error"]
            return outcome["result"]

        return join


def dataset_source() -> str:
    """$DATASET, else the archive beside the checkout, else the official CIFAR-100 archive (cached)."""
    if os.environ.get("DATASET"):
        return os.environ["DATASET"]
    if SHARED_ARCHIVE.is_file():
        return str(SHARED_ARCHIVE)
    from etl import OFFICIAL_URL

    return OFFICIAL_URL


def history(sfn: Any, arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


def state_machine_arn(sfn: Any, name: str) -> str:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    raise DemoError(f"state machine {name} not found although Terraform created it")


def darken(png: bytes, factor: float = 0.4) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        buffer = io.BytesIO()
        ImageEnhance.Brightness(image.convert("RGB")).enhance(factor).save(buffer, format="PNG")
        return buffer.getvalue()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "demo", help="report and state folder")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the training script's default)")
    parser.add_argument("--darkened", type=int, default=60, help="darkened images for the drift pass")
    parser.add_argument(
        "--keep",
        action="store_true",
        default=os.environ.get("KEEP") == "1",
        help="keep the embedded AWS running at the end (also KEEP=1)",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_AWS_PORT", "4566")))
    parser.add_argument("--accuracy-threshold", type=float, help="the pipeline's gate (default: Terraform's)")
    parser.add_argument(
        "--confidence-threshold",
        type=float,
        help="Terraform's confidence_threshold override (default: none, each model's own threshold applies)",
    )
    parser.add_argument(
        "--destroy",
        action="store_true",
        help="terraform destroy at the end and report what is left (the end-to-end test does)",
    )
    return parser.parse_args(argv)


def wait_for_training_jobs_to_end(sagemaker: Any, timeout: float = 180) -> None:
    """Wait until no training job is InProgress or Stopping (a stopped job gets up to 120 s to save its model)."""
    deadline = time.monotonic() + timeout
    while any(
        sagemaker.list_training_jobs(StatusEquals=status)["TrainingJobSummaries"]
        for status in ("InProgress", "Stopping")
    ):
        if time.monotonic() > deadline:
            raise DemoError(f"a training job was still running {timeout:.0f} s after its execution was stopped")
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "scripts")]
    from demo.api_client import exercise
    from demo.decisions import DECIDED_ROUTES, DecisionConsumer
    from demo.execution_logs import ExecutionLogMissing, execution_log, execution_status, states_entered
    from demo.load import UNACCOUNTED, Image, LoadResult, run_load, take_queue_messages
    from demo.report import path_taken, write_report
    from demo.terraform import Terraform, planned_changes, planned_value
    from local_aws.server import start

    from etl import run as run_etl
    from monitoring.run_now import run_now
    from training.launch import launch

    out = args.out.resolve()
    stages = Stages(total=17 if args.destroy else 16)
    report: dict[str, Any] = {}
    source = dataset_source()
    aws = None
    running_apply = None
    decisions = None
    began = time.monotonic()
    try:
        stages.run(
            "build Lambda zips",
            lambda: subprocess.run(
                [sys.executable, str(REPO_ROOT / "scripts" / "build_lambdas")], check=True, capture_output=True
            ),
        )
        aws = stages.run("start the embedded AWS", lambda: start(port=args.port, work_dir=out / "local-aws"))
        print(f"    embedded AWS at {aws.endpoint_url}")
        terraform = Terraform(
            out / "terraform",
            {
                "aws_endpoint_url": aws.endpoint_url,
                "region": aws.region,
                "force_destroy_buckets": True,
                # A local endpoint is in service within seconds; AWS's take minutes (the default polls every 30 s).
                "endpoint_poll_seconds": 2,
                "endpoint_exists": False,
                # The review console URL's invoke statement is added with boto3 (scripts/function_url_permission).
                "function_url_permission_python": sys.executable,
            }
            | ({"accuracy_threshold": args.accuracy_threshold} if args.accuracy_threshold else {})
            | ({"confidence_threshold": args.confidence_threshold} if args.confidence_threshold else {}),
            aws.environment(),
        )

        def init_and_plan() -> tuple[Path, dict]:
            terraform.init()
            return terraform.plan("plan-phase-1")

        plan_file, plan = stages.run("terraform init and plan (phase 1)", init_and_plan)
        bucket = planned_value(plan, 'module.storage.aws_s3_bucket.this["data"]', "bucket")
        pipeline_name = planned_value(plan, "module.training_pipeline.aws_sfn_state_machine.this", "name")
        running_apply = terraform.start_apply(plan_file, "apply-phase-1")
        phase_one = stages.background(
            "terraform apply (phase 1)", lambda: (running_apply.wait(), terraform.outputs())[1]
        )

        os.environ.update(aws.environment())

        def etl_stage() -> Any:
            needed = {a for a in planned_changes(plan, ETL_NEEDS) if ETL_DOES_NOT_NEED not in a}
            running_apply.wait_for(needed)
            return run_etl(source, out / "dataset", bucket=bucket, prefix=DATASET_PREFIX, s3_client=aws.client("s3"))

        etl = stages.run("ETL into the data bucket", etl_stage, note=" (once the data bucket is applied)")
        report["dataset"] = {"source": source, "sha256": etl.manifest["source"]["sha256"]}
        report["etl"] = {"counts": etl.counts, "classes": etl.manifest["classes"], "uploaded": etl.uploaded}

        hyperparameters = {"epochs": args.epochs} if args.epochs else {}

        def pipeline_stage() -> Any:
            running_apply.wait_for(planned_changes(plan, PIPELINE_NEEDS))
            return launch(
                state_machine_arn(aws.client("stepfunctions"), pipeline_name),
                bucket,
                DATASET_PREFIX,
                region=aws.region,
                client_factory=aws.client,
                progress=lambda line: print(f"    {line}", flush=True),
                poll_seconds=1.0,
                hyperparameters=hyperparameters,
            )

        result = stages.run(
            "training pipeline: train, evaluate, gate, deploy",
            pipeline_stage,
            note=" (once its state machine is applied)",
        )
        sagemaker = aws.client("sagemaker")
        job = sagemaker.describe_training_job(TrainingJobName=result.job_name)
        report["training"] = {
            "job_name": result.job_name,
            "seconds": (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds(),
            "metrics": {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])},
        }
        report["evaluation"] = {
            "accuracy": result.accuracy,
            "threshold": result.threshold,
            "metric": result.metric_name,
            "decision": "deployed" if result.status == "SUCCEEDED" else result.error,
        }
        if result.status != "SUCCEEDED":
            raise DemoError(f"the pipeline did not deploy a model: {result.summary()}")
        pipeline_arn = result.execution_arn
        outputs = phase_one()
        running_apply = None
        # A dispatch system's view: a rule on the decision bus delivering to a queue the demo counts.
        decisions = DecisionConsumer.subscribe(
            aws.client,
            outputs["decision_bus_name"],
            outputs["decision_event_source"],
            outputs["decision_detail_type"],
            "demo-decisions",
        )

        def apply_phase_two() -> dict:
            terraform.apply("apply-phase-2", endpoint_exists=True)
            # What was applied, policy documents included, for the IAM audit (tests/e2e/test_iam_audit.py).
            (out / "terraform-show.json").write_text(json.dumps(terraform.show(), indent=1))
            return terraform.outputs()

        manifest_files = etl.manifest["splits"]["test"]["files"]
        classes = etl.manifest["classes"]
        test_images = [
            Image(f"incoming/test/{name}", (out / "dataset" / "test" / name).read_bytes(), classes[entry["label"]])
            for name, entry in sorted(manifest_files.items())
        ]

        def inference(images: list[Image], over_seconds: float) -> LoadResult:
            load = run_load(
                aws.client,
                outputs["inference_state_machine_arn"],
                bucket,
                outputs["human_review_queue_url"],
                images,
                over_seconds=over_seconds,
                progress=lambda line: print(f"    {line}", flush=True),
                decisions=decisions,
                keep_for_review=REVIEWS,
            )
            summary = load.summary()
            print(
                f"    {summary['executions']} executions started over {summary['submit_seconds']:.1f} s, at most "
                f"{summary['peak_running']} running at once, all ended after {summary['wall_seconds']:.1f} s; "
                f"latency p50 {summary['p50_seconds']:.2f} s, p95 {summary['p95_seconds']:.2f} s; "
                f"routes {summary['routes']}; {summary['decisions_published']} decisions published "
                f"{summary['decisions_by_route']}",
                flush=True,
            )
            if not load.complete():
                unaccounted = {k: v for k, v in summary.items() if k in UNACCOUNTED and v}
                raise DemoError(f"images or decisions not accounted for exactly once: {unaccounted}")
            return load

        load_began = time.time()  # where the model_monitor engine's window over the captured traffic starts
        load = stages.run(
            f"inference workflow over {len(test_images)} test images",
            lambda: inference(test_images, over_seconds=10.0),
            note=" (started over 10 s)",
        )
        items = load.items
        failed = [i for i in items if i["route"] not in DECIDED_ROUTES]
        if failed:
            raise DemoError(f"{len(failed)} inference executions failed, e.g. {failed[0]}")
        # The courier app's way in: images through the HTTPS API (function URL, SigV4-signed), and the requests
        # it must refuse (unsigned, malformed, oversize).
        api_images = [test_images[i] for i in range(0, len(test_images), max(1, len(test_images) // API_IMAGES))]

        def api_stage() -> dict:
            result = exercise(outputs["inference_api_url"], [(i.data, i.true_label) for i in api_images], aws.region)
            keys = {a["image"]["s3_key"] for a in result["answers"] if a["status"] == 200}
            events = decisions.take(keys, expected=len(keys))
            result["decisions_published"] = len(events)
            take_queue_messages(aws.client("sqs"), outputs["human_review_queue_url"], keys)  # as a reviewer would
            print(
                f"    {result['answered']}/{result['requests']} answered {result['routes']}, p50 "
                f"{result['p50_seconds']} s; refused: "
                + ", ".join(f"{name} {r['status']}" for name, r in result["refused"].items()),
                flush=True,
            )
            expected = {"unsigned": 403, "malformed": 400, "oversize": 413}
            wrong = {n: r["status"] for n, r in result["refused"].items() if r["status"] != expected[n]}
            if result["answered"] != result["requests"] or wrong or len(events) != len(keys):
                raise DemoError(
                    f"the HTTPS API misbehaved: {result['answered']}/{result['requests']} answered, "
                    f"refusals {wrong or 'as expected'}, {len(events)} decisions for {len(keys)} answers"
                )
            return result

        api_result = stages.run(f"HTTPS API: {len(api_images)} images, signed (SigV4)", api_stage)

        def probe_stage() -> dict:
            # The probe's known images: for each probe key, the test image the model routed there most surely.
            by_key = {image.key: image for image in test_images}
            placed = {}
            for key, route in outputs["probe_images"].items():
                right = [i for i in items if i["route"] == route and ROUTE_OF[i["true_label"]] == route]
                if not right:
                    raise DemoError(f"no test image was routed {route} correctly: nothing to probe with")
                best = max(right, key=lambda i: i["confidence"])
                aws.client("s3").put_object(Bucket=bucket, Key=key, Body=by_key[best["s3_key"]].data)
                placed[key] = {"from": best["s3_key"], "confidence": best["confidence"], "route": route}
            response = aws.client("lambda").invoke(FunctionName=outputs["probe_function_name"], Payload=b"{}")
            answer = json.loads(response["Payload"].read())
            if response.get("FunctionError"):
                raise DemoError(f"the probe function failed: {answer}")
            keys = {check["s3_key"] for check in answer["checks"]}
            decisions.take(keys, expected=len(keys))  # probe decisions are marked probe: true; not the load's
            take_queue_messages(aws.client("sqs"), outputs["human_review_queue_url"], keys)
            print(f"    probe: {len(answer['checks'])} known images, {answer['failures']} failures", flush=True)
            if answer["failures"]:
                raise DemoError(f"the synthetic probe failed: {answer['checks']}")
            return {"images": placed, "checks": answer["checks"], "failures": answer["failures"]}

        probe_result = stages.run("synthetic probe: place the known images, run it now", probe_stage)

        def review_stage() -> dict:
            # A person closes the loop: the images the load left on the queue, decided in the review console
            # (headless chromium), labelled with their true class from the test set's manifest.
            from demo.review import review_in_browser

            result = review_in_browser(
                aws.client,
                outputs,
                {image.key: image.true_label for image in test_images},
                out,
                lambda keys, expected: decisions.take(keys, expected=expected),
                count=REVIEWS,
                progress=lambda line: print(f"    {line}", flush=True),
            )
            print(
                f"    {result['decided']} decided, {result['events_published']} reviewer decisions published, "
                f"{result['ground_truth_lines']} ground-truth lines; screenshot {result['screenshot']}",
                flush=True,
            )
            if result["events_published"] != result["decided"]:
                raise DemoError(f"{result['decided']} reviews decided but {result['events_published']} events")
            return result

        review_result = stages.run(f"review console: a reviewer decides {REVIEWS} queued images", review_stage)
        # Phase 2 adds the monitoring schedule and autoscaling, which inference does not need. It runs after the
        # load test rather than beside it: Terraform's CPU would otherwise be in the latency figures.
        outputs = outputs | stages.run("terraform apply (phase 2: monitoring schedule, autoscaling)", apply_phase_two)
        # The threshold each decision applied: Terraform's override when set, else the deployed model's own.
        applied = Counter(i["confidence_threshold"] for i in items if i.get("confidence_threshold") is not None)
        if not applied:
            raise DemoError("no inference decision reported the confidence threshold it applied")
        threshold = applied.most_common(1)[0][0]
        report["inference"] = {
            "threshold": threshold,
            "threshold_source": "terraform" if outputs.get("confidence_threshold") is not None else "model",
            "model_versions": sorted({i["model_version"] for i in items if i.get("model_version")}),
            "items": items,
            "load": load.summary(),
            # Every image the model classified has its decision on the bus, once (run_load checked each key).
            "decisions_published": load.summary()["decisions_published"],
            "decisions_by_route": load.summary()["decisions_by_route"],
            "api": {k: v for k, v in api_result.items() if k != "answers"},
            "probe": probe_result,
        }
        report["review"] = review_result

        schedule = outputs["monitoring_schedule_name"]
        sfn = aws.client("stepfunctions")

        def new_retrain(before: set[str], timeout: float = 30) -> str | None:
            """The pipeline execution the retrain guard started after `before` was listed, if any."""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                executions = sfn.list_executions(stateMachineArn=outputs["training_pipeline_arn"])["executions"]
                started = [e["executionArn"] for e in executions if e["executionArn"] not in before]
                if started:
                    if sfn.describe_execution(executionArn=started[0])["status"] == "RUNNING":
                        sfn.stop_execution(executionArn=started[0], cause="demo: the retrain started as it should")
                        # Step Functions stops the retrain's training job too; let it end before anything else
                        # (terraform destroy would otherwise remove the role it still uploads as).
                        wait_for_training_jobs_to_end(aws.client("sagemaker"))
                    return started[0]
                time.sleep(0.5)
            return None

        def pipeline_runs() -> set[str]:
            listed = sfn.list_executions(stateMachineArn=outputs["training_pipeline_arn"])["executions"]
            return {e["executionArn"] for e in listed}

        def monitoring_pass(name: str, engine: str, expect_retrain: bool, **window: str) -> dict:
            before = pipeline_runs()
            result = run_now(engine, schedule, aws.client, **({"poll_seconds": 0.5, **window} if window else {}))
            retrain = new_retrain(before) if expect_retrain else None
            print(
                f"    {engine}: {result['records']} records, {len(result['violations'])} violations "
                f"({result['status']}){'; retraining started' if retrain else ''}",
                flush=True,
            )
            return {
                "name": name,
                "engine": engine,
                "records": result["records"],
                "violations": result["violations"],
                "status": result["status"],
                "report_s3_uri": result["report_s3_uri"],
                "retrain_started": retrain is not None,
                "retrain_execution_arn": retrain,
            }

        def seconds_ago(moment: float, slack: int = 1) -> str:
            """An ISO 8601 offset reaching back to `moment` (time.time()), one second wider."""
            return f"PT{math.ceil(time.time() - moment) + slack}S"

        passes = [
            stages.run(
                "monitoring pass on the captured traffic (scheduled_check)",
                lambda: monitoring_pass("captured traffic", "scheduled_check", False),
            )
        ]
        darkened = [
            Image(f"incoming/darkened/{image.key.rsplit('/', 1)[-1]}", darken(image.data), image.true_label)
            for image in test_images[: args.darkened]
        ]

        def drift_pass() -> dict:
            traffic_began["darkened"] = time.time()
            inference(darkened, over_seconds=3.0)
            traffic_began["darkened_end"] = time.time()
            return monitoring_pass("darkened images", "scheduled_check", True)

        traffic_began = {"load": load_began}  # when each window of captured traffic began (time.time())
        passes.append(stages.run(f"monitoring pass on {len(darkened)} darkened images (scheduled_check)", drift_pass))

        def apply_phase_three() -> None:
            terraform.apply("apply-phase-3", endpoint_exists=True, monitoring_engine="model_monitor")
            (out / "terraform-show-model-monitor.json").write_text(json.dumps(terraform.show(), indent=1))

        stages.run("terraform apply (phase 3: monitoring_engine = model_monitor)", apply_phase_three)

        def model_monitor_passes() -> list[dict]:
            # The same two windows of captured traffic, analysed by one-time Model Monitor schedules.
            captured = monitoring_pass(
                "captured traffic",
                "model_monitor",
                False,
                window=seconds_ago(traffic_began["load"]),
                until=seconds_ago(traffic_began["darkened"]),  # ends a second before the darkened images
            )
            # ... and ends a second after them.
            after = math.floor(time.time() - traffic_began["darkened_end"]) - 1
            dark = monitoring_pass(
                "darkened images",
                "model_monitor",
                True,
                window=seconds_ago(traffic_began["darkened"]),
                until=f"PT{after}S" if after > 0 else "PT0H",
            )
            return [captured, dark]

        passes += stages.run("monitoring passes with Model Monitor (model_monitor)", model_monitor_passes)
        report["monitoring"] = {"passes": passes}
        missed = [
            p for p in passes if p["name"] == "darkened images" and not (p["violations"] and p["retrain_started"])
        ]
        clean = [p for p in passes if p["name"] == "captured traffic" and p["violations"]]
        if missed or clean:
            raise DemoError(
                f"drift checks disagree with the traffic: {[p['engine'] for p in missed]} missed the darkened images, "
                f"{[p['engine'] for p in clean]} reported violations on the captured traffic"
            )

        with open(REPO_ROOT / "inference.asl.json") as handle:
            inference_definition = json.load(handle)
        with open(REPO_ROOT / "statemachine.asl.json") as handle:
            pipeline_definition = json.load(handle)
        graphs = [
            {
                "definition": pipeline_definition,
                "visited": path_taken(history(sfn, pipeline_arn)),
                "status": "SUCCEEDED",
                "title": "Training pipeline",
                "file": "pipeline_execution.png",
            }
        ]
        # The inference workflow is EXPRESS: no execution history; its CloudWatch Logs hold the path taken.
        logs = aws.client("logs")
        for route in ("nearby", "distant", "human_review"):
            sample = next((i for i in items if i["route"] == route), None)
            if sample is not None:
                try:
                    records = execution_log(logs, outputs["inference_log_group_name"], sample["execution_arn"])
                except ExecutionLogMissing as error:
                    raise DemoError(f"cannot draw the {route} path: {error}") from error
                graphs.append(
                    {
                        "definition": inference_definition,
                        "visited": states_entered(records),
                        "status": execution_status(records),
                        "title": f"Inference workflow ({route.replace('_', ' ')})",
                        "file": f"inference_{route}.png",
                    }
                )

        decisions.close()
        decisions = None
        if args.destroy:

            def destroy() -> list[str]:
                terraform.destroy(endpoint_exists=True, monitoring_engine="model_monitor")
                return terraform.resources()

            report["teardown"] = {"destroyed": True, "resources_left": stages.run("terraform destroy", destroy)}

        def write() -> Path:
            # Every call made on a role's behalf, checked against its Terraform-rendered policy (local_aws.iam).
            report["iam"] = aws.iam.summary()
            shutil.copyfile(aws.iam.log_path, out / "iam-calls.jsonl")
            report["timings"] = dict(stages.timings)
            report["wall_seconds"] = round(time.monotonic() - began, 2)
            paths = {image.key: out / "dataset" / "test" / image.key.rsplit("/", 1)[-1] for image in test_images}
            return write_report(out, report, paths, graphs)

        path = stages.run("write the report", write)
        print(f"report: {path}")
        print(f"IAM: {report['iam']['calls_checked']} calls checked, {len(report['iam']['denied'])} denied")
        if report["iam"]["denied"]:
            first = report["iam"]["denied"][0]
            raise DemoError(
                f"IAM denied {len(report['iam']['denied'])} calls, e.g. {first['principal']} {first['action']} "
                f"on {first['resource']}: {first['reason']}"
            )
        print("timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in stages.timings.items()))
        if args.keep:
            print("KEEP=1: the embedded AWS stays up until Ctrl-C. Point the AWS CLI or boto3 at it with:")
            for name, value in aws.environment().items():
                print(f"    export {name}={value}")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return 0
    except DemoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if decisions is not None and aws is not None:
            try:
                decisions.close()
            except Exception as error:  # the embedded AWS goes away next; a real stack keeps the rule
                print(f"warning: could not remove the demo's decision consumer: {error}", file=sys.stderr)
        if running_apply is not None:
            running_apply.stop()
        if aws is not None:
            aws.stop()


if __name__ == "__main__":
    sys.exit(main())
