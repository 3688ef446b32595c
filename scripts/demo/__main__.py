"""`make demo`: the whole workflow on the embedded AWS, one progress line per stage, a report at the end.

Stages: build the Lambda zips → start the embedded AWS → terraform apply (phase 1: everything but what needs a
live endpoint) → ETL into the data bucket → the training pipeline (real training → evaluate → gate → deploy) →
terraform apply (phase 2: monitoring schedule and autoscaling on the live endpoint) → every test image through
the inference state machine → a monitoring pass on that traffic → a second pass on darkened images, which must
report violations and start a retrain → report → tear down (KEEP=1 keeps the stack up).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageEnhance

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_ARCHIVE = REPO_ROOT.parent / "shared" / "data" / "cifar-100-bikes-python.tar.gz"
DATASET_PREFIX = "datasets/cifar-bikes"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class DemoError(Exception):
    """A stage of the demo failed; the message says which and why."""


@dataclass
class Stages:
    total: int
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, action: Callable[[], Any]) -> Any:
        number = len(self.timings) + 1
        print(f"[{number}/{self.total}] {name} ...", flush=True)
        started = time.monotonic()
        try:
            result = action()
        except Exception as error:
            raise DemoError(f"stage '{name}' failed: {error}") from error
        self.timings[name] = round(time.monotonic() - started, 2)
        print(f"[{number}/{self.total}] {name} done in {self.timings[name]:.1f} s", flush=True)
        return result


def dataset_source() -> str:
    """$DATASET, else the archive beside the checkout, else the official CIFAR-100 archive (cached)."""
    if os.environ.get("DATASET"):
        return os.environ["DATASET"]
    if SHARED_ARCHIVE.is_file():
        return str(SHARED_ARCHIVE)
    from etl import OFFICIAL_URL

    return OFFICIAL_URL


def wait_for(sfn: Any, arn: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] in TERMINAL:
            return execution
        if time.monotonic() > deadline:
            raise DemoError(f"{arn} still {execution['status']} after {timeout:.0f}s")
        time.sleep(0.25)


def history(sfn: Any, arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


def inference_item(execution: dict, key: str, true_label: str) -> dict[str, Any]:
    """One report item from an inference execution's output (human review carries only the probabilities)."""
    if execution["status"] != "SUCCEEDED":
        return {
            "s3_key": key,
            "true_label": true_label,
            "predicted_label": None,
            "confidence": 0.0,
            "route": f"failed:{execution.get('error')}",
            "execution_arn": execution["executionArn"],
        }
    output = json.loads(execution["output"])
    probabilities, labels = output["inferences"], output["labels"]
    best = max(range(len(labels)), key=lambda i: probabilities[i])
    return {
        "s3_key": key,
        "true_label": true_label,
        "predicted_label": output.get("predicted_label", labels[best]),
        "confidence": output.get("confidence", probabilities[best]),
        "route": output["route"],
        "execution_arn": execution["executionArn"],
    }


def run_images(
    aws: Any, state_machine_arn: str, bucket: str, images: list[tuple[str, bytes, str]], workers: int = 12
) -> list[dict]:
    """Upload each (key, bytes, true label), run the inference state machine on it, collect one item each."""
    s3, sfn = aws.client("s3"), aws.client("stepfunctions")

    def one(entry: tuple[str, bytes, str]) -> dict:
        key, data, true_label = entry
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        arn = sfn.start_execution(
            stateMachineArn=state_machine_arn, input=json.dumps({"s3_bucket": bucket, "s3_key": key})
        )["executionArn"]
        return inference_item(wait_for(sfn, arn, 300), key, true_label)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, images))


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
        "--destroy",
        action="store_true",
        help="terraform destroy at the end and report what is left (the end-to-end test does)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "scripts")]
    from demo.report import write_report
    from demo.terraform import Terraform
    from local_aws.monitoring_runs import run_schedule
    from local_aws.server import start

    from etl import run as run_etl
    from training.launch import launch

    out = args.out.resolve()
    stages = Stages(total=12 if args.destroy else 11)
    report: dict[str, Any] = {}
    source = dataset_source()
    aws = None
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
                # STANDARD keeps execution histories, which the report draws; production keeps EXPRESS.
                "inference_workflow_type": "STANDARD",
                "endpoint_exists": False,
            }
            | ({"accuracy_threshold": args.accuracy_threshold} if args.accuracy_threshold else {}),
            aws.environment(),
        )

        def apply_phase_one() -> dict:
            terraform.init()
            terraform.apply("apply-phase-1")
            return terraform.outputs()

        outputs = stages.run("terraform apply (phase 1)", apply_phase_one)
        bucket = outputs["data_bucket_name"]

        os.environ.update(aws.environment())
        etl = stages.run(
            "ETL into the data bucket",
            lambda: run_etl(source, out / "dataset", bucket=bucket, prefix=DATASET_PREFIX, s3_client=aws.client("s3")),
        )
        report["dataset"] = {"source": source, "sha256": etl.manifest["source"]["sha256"]}
        report["etl"] = {"counts": etl.counts, "classes": etl.manifest["classes"], "uploaded": etl.uploaded}

        hyperparameters = {"epochs": args.epochs} if args.epochs else {}
        result = stages.run(
            "training pipeline: train, evaluate, gate, deploy",
            lambda: launch(
                outputs["training_pipeline_arn"],
                bucket,
                DATASET_PREFIX,
                region=aws.region,
                client_factory=aws.client,
                progress=lambda line: print(f"    {line}", flush=True),
                poll_seconds=1.0,
                hyperparameters=hyperparameters,
            ),
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

        def apply_phase_two() -> dict:
            terraform.apply("apply-phase-2", endpoint_exists=True)
            return terraform.outputs()

        outputs = stages.run("terraform apply (phase 2: monitoring schedule, autoscaling)", apply_phase_two)
        # What was applied, policy documents included, for the IAM audit (tests/e2e/test_iam_audit.py).
        (out / "terraform-show.json").write_text(json.dumps(terraform.show(), indent=1))

        manifest_files = etl.manifest["splits"]["test"]["files"]
        classes = etl.manifest["classes"]
        test_images = [
            (f"incoming/test/{name}", (out / "dataset" / "test" / name).read_bytes(), classes[entry["label"]])
            for name, entry in sorted(manifest_files.items())
        ]
        items = stages.run(
            f"inference workflow over {len(test_images)} test images",
            lambda: run_images(aws, outputs["inference_state_machine_arn"], bucket, test_images),
        )
        failed = [i for i in items if str(i["route"]).startswith("failed")]
        if failed:
            raise DemoError(f"{len(failed)} inference executions failed, e.g. {failed[0]}")
        threshold = float(outputs.get("confidence_threshold", 0.0))
        report["inference"] = {"threshold": threshold, "items": items}

        schedule = outputs["monitoring_schedule_name"]
        first = stages.run("monitoring pass on the captured traffic", lambda: run_schedule(aws, schedule))
        darkened = [
            (f"incoming/darkened/{key.rsplit('/', 1)[-1]}", darken(data), label)
            for key, data, label in test_images[: args.darkened]
        ]
        sfn = aws.client("stepfunctions")
        before = {
            e["executionArn"]
            for e in sfn.list_executions(stateMachineArn=outputs["training_pipeline_arn"])["executions"]
        }

        def drift_pass() -> tuple[dict, str | None]:
            run_images(aws, outputs["inference_state_machine_arn"], bucket, darkened)
            second = run_schedule(aws, schedule)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                started = [
                    e
                    for e in sfn.list_executions(stateMachineArn=outputs["training_pipeline_arn"])["executions"]
                    if e["executionArn"] not in before
                ]
                if started:
                    return second, started[0]["executionArn"]
                time.sleep(0.5)
            return second, None

        second, retrain_arn = stages.run(f"monitoring pass on {len(darkened)} darkened images", drift_pass)
        report["monitoring"] = {
            "passes": [
                {
                    "name": "captured traffic",
                    "records": first["records"],
                    "violations": first["violations"],
                    "status": first["MonitoringExecutionStatus"],
                },
                {
                    "name": "darkened images",
                    "records": second["records"],
                    "violations": second["violations"],
                    "status": second["MonitoringExecutionStatus"],
                    "retrain_started": retrain_arn is not None,
                    "retrain_execution_arn": retrain_arn,
                },
            ]
        }
        if not second["violations"] or retrain_arn is None:
            raise DemoError("the darkened traffic did not report violations and start a retrain")
        sfn.stop_execution(executionArn=retrain_arn, cause="demo: retrain started as expected, not needed")

        with open(REPO_ROOT / "inference.asl.json") as handle:
            inference_definition = json.load(handle)
        with open(REPO_ROOT / "statemachine.asl.json") as handle:
            pipeline_definition = json.load(handle)
        graphs = [
            {
                "definition": pipeline_definition,
                "events": history(sfn, pipeline_arn),
                "status": "SUCCEEDED",
                "title": "Training pipeline",
                "file": "pipeline_execution.png",
            }
        ]
        for route in ("nearby", "distant", "human_review"):
            sample = next((i for i in items if i["route"] == route), None)
            if sample is not None:
                graphs.append(
                    {
                        "definition": inference_definition,
                        "events": history(sfn, sample["execution_arn"]),
                        "status": "SUCCEEDED",
                        "title": f"Inference workflow ({route.replace('_', ' ')})",
                        "file": f"inference_{route}.png",
                    }
                )

        if args.destroy:

            def destroy() -> list[str]:
                terraform.destroy(endpoint_exists=True)
                return terraform.resources()

            report["teardown"] = {"destroyed": True, "resources_left": stages.run("terraform destroy", destroy)}

        def write() -> Path:
            report["timings"] = dict(stages.timings)
            paths = {key: out / "dataset" / "test" / key.rsplit("/", 1)[-1] for key, _, _ in test_images}
            return write_report(out, report, paths, graphs)

        path = stages.run("write the report", write)
        print(f"report: {path}")
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
        if aws is not None:
            aws.stop()


if __name__ == "__main__":
    sys.exit(main())
