"""`make demo`: the whole workflow on the embedded AWS, one progress line per stage, a report at the end.

`Demo` has one method per step of README.md's "What `make demo` does", and `STEPS` runs them in that order:
start the embedded AWS → terraform apply phase 1 (in the background) → ETL → training pipeline → inference load
test → HTTPS API → synthetic probe → review console → terraform apply phase 2 → drift monitoring (both engines,
phase 3 in between) → report (and terraform destroy with --destroy). Each stage starts as soon as what it uses
exists; each monitoring pass is started with "run now" (monitoring.run_now): the embedded AWS never fires
schedules.
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
from typing import TYPE_CHECKING, Any

from PIL import Image as PilImage
from PIL import ImageEnhance

if TYPE_CHECKING:
    from demo.load import Image

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
    with PilImage.open(io.BytesIO(png)) as image:
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


class Demo:
    """One run of the demo: one method per step of README.md's "What `make demo` does", in that order.

    Each step prints its progress lines through `stages` and adds its part to `report`; what later steps need
    (the embedded AWS, Terraform's outputs, the test images, the decisions seen) is kept on the instance.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = args.out.resolve()
        self.stages = Stages(total=17 if args.destroy else 16)
        self.report: dict[str, Any] = {}
        self.began = time.monotonic()
        self.aws: Any = None
        self.running_apply: Any = None
        self.decisions: Any = None
        self.outputs: dict[str, Any] = {}
        self.traffic_began: dict[str, float] = {}  # when each window of captured traffic began (time.time())
        self.graphs: list[dict] = []

    # 1. Lambda zips and the embedded AWS
    def start_embedded_aws(self) -> None:
        from local_aws.server import start

        self.stages.run(
            "build Lambda zips",
            lambda: subprocess.run(
                [sys.executable, str(REPO_ROOT / "scripts" / "build_lambdas")], check=True, capture_output=True
            ),
        )
        self.aws = self.stages.run(
            "start the embedded AWS", lambda: start(port=self.args.port, work_dir=self.out / "local-aws")
        )
        print(f"    embedded AWS at {self.aws.endpoint_url}")

    # 2. terraform plan and apply, phase 1 (in the background: the next steps start once what they use exists)
    def apply_phase_one(self) -> None:
        from demo.terraform import Terraform, planned_value

        args, aws = self.args, self.aws
        self.terraform = Terraform(
            self.out / "terraform",
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
            self.terraform.init()
            return self.terraform.plan("plan-phase-1")

        plan_file, self.plan = self.stages.run("terraform init and plan (phase 1)", init_and_plan)
        self.bucket = planned_value(self.plan, 'module.storage.aws_s3_bucket.this["data"]', "bucket")
        self.pipeline_name = planned_value(self.plan, "module.training_pipeline.aws_sfn_state_machine.this", "name")
        self.running_apply = self.terraform.start_apply(plan_file, "apply-phase-1")
        running = self.running_apply
        self.phase_one = self.stages.background(
            "terraform apply (phase 1)", lambda: (running.wait(), self.terraform.outputs())[1]
        )
        os.environ.update(aws.environment())

    # 3. the ETL into the data bucket
    def load_dataset(self) -> None:
        from demo.load import Image
        from demo.terraform import planned_changes

        from etl import run as run_etl

        source = dataset_source()

        def etl_stage() -> Any:
            needed = {a for a in planned_changes(self.plan, ETL_NEEDS) if ETL_DOES_NOT_NEED not in a}
            self.running_apply.wait_for(needed)
            return run_etl(
                source, self.out / "dataset", bucket=self.bucket, prefix=DATASET_PREFIX, s3_client=self.aws.client("s3")
            )

        self.etl = self.stages.run("ETL into the data bucket", etl_stage, note=" (once the data bucket is applied)")
        self.report["dataset"] = {"source": source, "sha256": self.etl.manifest["source"]["sha256"]}
        self.report["etl"] = {
            "counts": self.etl.counts,
            "classes": self.etl.manifest["classes"],
            "uploaded": self.etl.uploaded,
        }
        manifest_files = self.etl.manifest["splits"]["test"]["files"]
        classes = self.etl.manifest["classes"]
        self.test_images = [
            Image(f"incoming/test/{name}", (self.out / "dataset" / "test" / name).read_bytes(), classes[entry["label"]])
            for name, entry in sorted(manifest_files.items())
        ]

    # 4. the training pipeline: train, evaluate, gate, deploy
    def train_and_deploy(self) -> None:
        from demo.decisions import DecisionConsumer
        from demo.terraform import planned_changes

        from training.launch import launch

        aws = self.aws
        hyperparameters = {"epochs": self.args.epochs} if self.args.epochs else {}

        def pipeline_stage() -> Any:
            self.running_apply.wait_for(planned_changes(self.plan, PIPELINE_NEEDS))
            return launch(
                state_machine_arn(aws.client("stepfunctions"), self.pipeline_name),
                self.bucket,
                DATASET_PREFIX,
                region=aws.region,
                client_factory=aws.client,
                progress=lambda line: print(f"    {line}", flush=True),
                poll_seconds=1.0,
                hyperparameters=hyperparameters,
            )

        result = self.stages.run(
            "training pipeline: train, evaluate, gate, deploy",
            pipeline_stage,
            note=" (once its state machine is applied)",
        )
        job = aws.client("sagemaker").describe_training_job(TrainingJobName=result.job_name)
        self.report["training"] = {
            "job_name": result.job_name,
            "seconds": (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds(),
            "metrics": {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])},
        }
        self.report["evaluation"] = {
            "accuracy": result.accuracy,
            "threshold": result.threshold,
            "metric": result.metric_name,
            "decision": "deployed" if result.status == "SUCCEEDED" else result.error,
        }
        if result.status != "SUCCEEDED":
            raise DemoError(f"the pipeline did not deploy a model: {result.summary()}")
        self.pipeline_arn = result.execution_arn
        self.outputs = self.phase_one()
        self.running_apply = None
        # A dispatch system's view: a rule on the decision bus delivering to a queue the demo counts.
        self.decisions = DecisionConsumer.subscribe(
            aws.client,
            self.outputs["decision_bus_name"],
            self.outputs["decision_event_source"],
            self.outputs["decision_detail_type"],
            "demo-decisions",
        )

    def _inference(self, images: list[Image], over_seconds: float) -> Any:
        from demo.load import UNACCOUNTED, run_load

        load = run_load(
            self.aws.client,
            self.outputs["inference_state_machine_arn"],
            self.bucket,
            self.outputs["human_review_queue_url"],
            images,
            over_seconds=over_seconds,
            progress=lambda line: print(f"    {line}", flush=True),
            decisions=self.decisions,
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

    # 5. every test image through the inference workflow, as a load test
    def classify_test_images(self) -> None:
        from demo.decisions import DECIDED_ROUTES

        self.traffic_began["load"] = time.time()  # where the model_monitor engine's window starts
        self.load = self.stages.run(
            f"inference workflow over {len(self.test_images)} test images",
            lambda: self._inference(self.test_images, over_seconds=10.0),
            note=" (started over 10 s)",
        )
        self.items = self.load.items
        failed = [i for i in self.items if i["route"] not in DECIDED_ROUTES]
        if failed:
            raise DemoError(f"{len(failed)} inference executions failed, e.g. {failed[0]}")

    # 6. the courier app's way in: images through the HTTPS API (function URL, SigV4-signed), and the requests it
    # must refuse (unsigned, malformed, oversize)
    def call_the_api(self) -> None:
        from demo.api_client import exercise
        from demo.load import take_queue_messages

        test_images, outputs = self.test_images, self.outputs
        api_images = [test_images[i] for i in range(0, len(test_images), max(1, len(test_images) // API_IMAGES))]

        def api_stage() -> dict:
            result = exercise(
                outputs["inference_api_url"], [(i.data, i.true_label) for i in api_images], self.aws.region
            )
            keys = {a["image"]["s3_key"] for a in result["answers"] if a["status"] == 200}
            events = self.decisions.take(keys, expected=len(keys))
            result["decisions_published"] = len(events)
            take_queue_messages(self.aws.client("sqs"), outputs["human_review_queue_url"], keys)  # as a reviewer would
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

        self.api_result = self.stages.run(f"HTTPS API: {len(api_images)} images, signed (SigV4)", api_stage)

    # 7. the synthetic probe on known images
    def run_the_probe(self) -> None:
        from demo.load import take_queue_messages

        aws, outputs = self.aws, self.outputs

        def probe_stage() -> dict:
            # The probe's known images: for each probe key, the test image the model routed there most surely.
            by_key = {image.key: image for image in self.test_images}
            placed = {}
            for key, route in outputs["probe_images"].items():
                right = [i for i in self.items if i["route"] == route and ROUTE_OF[i["true_label"]] == route]
                if not right:
                    raise DemoError(f"no test image was routed {route} correctly: nothing to probe with")
                best = max(right, key=lambda i: i["confidence"])
                aws.client("s3").put_object(Bucket=self.bucket, Key=key, Body=by_key[best["s3_key"]].data)
                placed[key] = {"from": best["s3_key"], "confidence": best["confidence"], "route": route}
            response = aws.client("lambda").invoke(FunctionName=outputs["probe_function_name"], Payload=b"{}")
            answer = json.loads(response["Payload"].read())
            if response.get("FunctionError"):
                raise DemoError(f"the probe function failed: {answer}")
            keys = {check["s3_key"] for check in answer["checks"]}
            self.decisions.take(keys, expected=len(keys))  # probe decisions are marked probe: true; not the load's
            take_queue_messages(aws.client("sqs"), outputs["human_review_queue_url"], keys)
            print(f"    probe: {len(answer['checks'])} known images, {answer['failures']} failures", flush=True)
            if answer["failures"]:
                raise DemoError(f"the synthetic probe failed: {answer['checks']}")
            return {"images": placed, "checks": answer["checks"], "failures": answer["failures"]}

        self.probe_result = self.stages.run("synthetic probe: place the known images, run it now", probe_stage)

    # 8. a person closes the loop: the images the load left on the queue, decided in the review console (headless
    # chromium), labelled with their true class from the test set's manifest
    def review_queued_images(self) -> None:
        from demo.review import review_in_browser

        def review_stage() -> dict:
            result = review_in_browser(
                self.aws.client,
                self.outputs,
                {image.key: image.true_label for image in self.test_images},
                self.out,
                lambda keys, expected: self.decisions.take(keys, expected=expected),
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

        self.report["review"] = self.stages.run(
            f"review console: a reviewer decides {REVIEWS} queued images", review_stage
        )

    # 9. terraform apply, phase 2: the monitoring schedule and autoscaling on the live endpoint. It runs after the
    # load test rather than beside it: Terraform's CPU would otherwise be in the latency figures.
    def apply_phase_two(self) -> None:
        def apply() -> dict:
            self.terraform.apply("apply-phase-2", endpoint_exists=True)
            # What was applied, policy documents included, for the IAM audit (tests/e2e/test_iam_audit.py).
            (self.out / "terraform-show.json").write_text(json.dumps(self.terraform.show(), indent=1))
            return self.terraform.outputs()

        self.outputs = self.outputs | self.stages.run(
            "terraform apply (phase 2: monitoring schedule, autoscaling)", apply
        )
        items = self.items
        # The threshold each decision applied: Terraform's override when set, else the deployed model's own.
        applied = Counter(i["confidence_threshold"] for i in items if i.get("confidence_threshold") is not None)
        if not applied:
            raise DemoError("no inference decision reported the confidence threshold it applied")
        summary = self.load.summary()
        self.report["inference"] = {
            "threshold": applied.most_common(1)[0][0],
            "threshold_source": "terraform" if self.outputs.get("confidence_threshold") is not None else "model",
            "model_versions": sorted({i["model_version"] for i in items if i.get("model_version")}),
            "items": items,
            "load": summary,
            # Every image the model classified has its decision on the bus, once (run_load checked each key).
            "decisions_published": summary["decisions_published"],
            "decisions_by_route": summary["decisions_by_route"],
            "api": {k: v for k, v in self.api_result.items() if k != "answers"},
            "probe": self.probe_result,
        }

    def _new_retrain(self, before: set[str], timeout: float = 30) -> str | None:
        """The pipeline execution the retrain guard started after `before` was listed, if any."""
        sfn = self.aws.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            executions = sfn.list_executions(stateMachineArn=self.outputs["training_pipeline_arn"])["executions"]
            started = [e["executionArn"] for e in executions if e["executionArn"] not in before]
            if started:
                if sfn.describe_execution(executionArn=started[0])["status"] == "RUNNING":
                    sfn.stop_execution(executionArn=started[0], cause="demo: the retrain started as it should")
                    # Step Functions stops the retrain's training job too; let it end before anything else
                    # (terraform destroy would otherwise remove the role it still uploads as).
                    wait_for_training_jobs_to_end(self.aws.client("sagemaker"))
                return started[0]
            time.sleep(0.5)
        return None

    def _pipeline_runs(self) -> set[str]:
        sfn = self.aws.client("stepfunctions")
        listed = sfn.list_executions(stateMachineArn=self.outputs["training_pipeline_arn"])["executions"]
        return {e["executionArn"] for e in listed}

    def _monitoring_pass(self, name: str, engine: str, expect_retrain: bool, **window: str) -> dict:
        from monitoring.run_now import run_now

        before = self._pipeline_runs()
        schedule = self.outputs["monitoring_schedule_name"]
        result = run_now(engine, schedule, self.aws.client, **({"poll_seconds": 0.5, **window} if window else {}))
        retrain = self._new_retrain(before) if expect_retrain else None
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

    # 10. drift monitoring: the captured traffic, then darkened images (which must report drift and start a
    # retrain), with the scheduled_check engine; then the same two windows with Model Monitor (phase 3)
    def monitor_drift(self) -> None:
        from demo.load import Image

        passes = [
            self.stages.run(
                "monitoring pass on the captured traffic (scheduled_check)",
                lambda: self._monitoring_pass("captured traffic", "scheduled_check", False),
            )
        ]
        darkened = [
            Image(f"incoming/darkened/{image.key.rsplit('/', 1)[-1]}", darken(image.data), image.true_label)
            for image in self.test_images[: self.args.darkened]
        ]

        def drift_pass() -> dict:
            self.traffic_began["darkened"] = time.time()
            self._inference(darkened, over_seconds=3.0)
            self.traffic_began["darkened_end"] = time.time()
            return self._monitoring_pass("darkened images", "scheduled_check", True)

        passes.append(
            self.stages.run(f"monitoring pass on {len(darkened)} darkened images (scheduled_check)", drift_pass)
        )

        def apply_phase_three() -> None:
            self.terraform.apply("apply-phase-3", endpoint_exists=True, monitoring_engine="model_monitor")
            (self.out / "terraform-show-model-monitor.json").write_text(json.dumps(self.terraform.show(), indent=1))

        self.stages.run("terraform apply (phase 3: monitoring_engine = model_monitor)", apply_phase_three)

        def seconds_ago(moment: float, slack: int = 1) -> str:
            """An ISO 8601 offset reaching back to `moment` (time.time()), one second wider."""
            return f"PT{math.ceil(time.time() - moment) + slack}S"

        def model_monitor_passes() -> list[dict]:
            # The same two windows of captured traffic, analysed by one-time Model Monitor schedules.
            captured = self._monitoring_pass(
                "captured traffic",
                "model_monitor",
                False,
                window=seconds_ago(self.traffic_began["load"]),
                until=seconds_ago(self.traffic_began["darkened"]),  # ends a second before the darkened images
            )
            # ... and ends a second after them.
            after = math.floor(time.time() - self.traffic_began["darkened_end"]) - 1
            dark = self._monitoring_pass(
                "darkened images",
                "model_monitor",
                True,
                window=seconds_ago(self.traffic_began["darkened"]),
                until=f"PT{after}S" if after > 0 else "PT0H",
            )
            return [captured, dark]

        passes += self.stages.run("monitoring passes with Model Monitor (model_monitor)", model_monitor_passes)
        self.report["monitoring"] = {"passes": passes}
        missed = [
            p for p in passes if p["name"] == "darkened images" and not (p["violations"] and p["retrain_started"])
        ]
        clean = [p for p in passes if p["name"] == "captured traffic" and p["violations"]]
        if missed or clean:
            raise DemoError(
                f"drift checks disagree with the traffic: {[p['engine'] for p in missed]} missed the darkened images, "
                f"{[p['engine'] for p in clean]} reported violations on the captured traffic"
            )

    # 11. the report: both state machines' graphs with the path taken, the IAM check of every call; then
    # terraform destroy when asked
    def report_and_tear_down(self) -> None:
        from demo.execution_logs import ExecutionLogMissing, execution_log, execution_status, states_entered
        from demo.report import path_taken, write_report

        with open(REPO_ROOT / "inference.asl.json") as handle:
            inference_definition = json.load(handle)
        with open(REPO_ROOT / "statemachine.asl.json") as handle:
            pipeline_definition = json.load(handle)
        self.graphs = [
            {
                "definition": pipeline_definition,
                "visited": path_taken(history(self.aws.client("stepfunctions"), self.pipeline_arn)),
                "status": "SUCCEEDED",
                "title": "Training pipeline",
                "file": "pipeline_execution.png",
            }
        ]
        # The inference workflow is EXPRESS: no execution history; its CloudWatch Logs hold the path taken.
        logs = self.aws.client("logs")
        for route in ("nearby", "distant", "human_review"):
            sample = next((i for i in self.items if i["route"] == route), None)
            if sample is not None:
                try:
                    records = execution_log(logs, self.outputs["inference_log_group_name"], sample["execution_arn"])
                except ExecutionLogMissing as error:
                    raise DemoError(f"cannot draw the {route} path: {error}") from error
                self.graphs.append(
                    {
                        "definition": inference_definition,
                        "visited": states_entered(records),
                        "status": execution_status(records),
                        "title": f"Inference workflow ({route.replace('_', ' ')})",
                        "file": f"inference_{route}.png",
                    }
                )

        self.decisions.close()
        self.decisions = None
        if self.args.destroy:

            def destroy() -> list[str]:
                self.terraform.destroy(endpoint_exists=True, monitoring_engine="model_monitor")
                return self.terraform.resources()

            self.report["teardown"] = {
                "destroyed": True,
                "resources_left": self.stages.run("terraform destroy", destroy),
            }

        report, aws, out = self.report, self.aws, self.out

        def write() -> Path:
            # Every call made on a role's behalf, checked against its Terraform-rendered policy (local_aws.iam).
            report["iam"] = aws.iam.summary()
            shutil.copyfile(aws.iam.log_path, out / "iam-calls.jsonl")
            report["timings"] = dict(self.stages.timings)
            report["wall_seconds"] = round(time.monotonic() - self.began, 2)
            paths = {image.key: out / "dataset" / "test" / image.key.rsplit("/", 1)[-1] for image in self.test_images}
            return write_report(out, report, paths, self.graphs)

        path = self.stages.run("write the report", write)
        print(f"report: {path}")
        print(f"IAM: {report['iam']['calls_checked']} calls checked, {len(report['iam']['denied'])} denied")
        if report["iam"]["denied"]:
            first = report["iam"]["denied"][0]
            raise DemoError(
                f"IAM denied {len(report['iam']['denied'])} calls, e.g. {first['principal']} {first['action']} "
                f"on {first['resource']}: {first['reason']}"
            )
        print("timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in self.stages.timings.items()))

    def keep_running(self) -> None:
        """KEEP=1: the embedded AWS stays up until Ctrl-C."""
        print("KEEP=1: the embedded AWS stays up until Ctrl-C. Point the AWS CLI or boto3 at it with:")
        for name, value in self.aws.environment().items():
            print(f"    export {name}={value}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

    def close(self) -> None:
        """Remove the demo's decision consumer, stop a running apply and the embedded AWS (whatever got started)."""
        if self.decisions is not None and self.aws is not None:
            try:
                self.decisions.close()
            except Exception as error:  # the embedded AWS goes away next; a real stack keeps the rule
                print(f"warning: could not remove the demo's decision consumer: {error}", file=sys.stderr)
        if self.running_apply is not None:
            self.running_apply.stop()
        if self.aws is not None:
            self.aws.stop()


STEPS = (
    Demo.start_embedded_aws,
    Demo.apply_phase_one,
    Demo.load_dataset,
    Demo.train_and_deploy,
    Demo.classify_test_images,
    Demo.call_the_api,
    Demo.run_the_probe,
    Demo.review_queued_images,
    Demo.apply_phase_two,
    Demo.monitor_drift,
    Demo.report_and_tear_down,
)
"""The README's steps, in order (README.md, "What `make demo` does")."""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "scripts")]
    demo = Demo(args)
    try:
        for step in STEPS:
            step(demo)
        if args.keep:
            demo.keep_running()
        return 0
    except DemoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        demo.close()


if __name__ == "__main__":
    sys.exit(main())
