"""The embedded AWS: moto's server on 127.0.0.1 plus the local compute behind the AWS contracts our stack uses.

`start()` runs moto's threaded server in this process, turns on moto's Step Functions interpreter, and installs
the compatibility modules, each a small `install(ctx)` that patches one place in moto:

- `lambda_runtime`: Lambda Invoke runs the deployed zip in a worker process;
- `endpoints`: InvokeEndpoint is answered by the deployed model, with data capture;
- `stepfunctions`: unnamed executions and ValidateStateMachineDefinition;
- `sfn_express`: Express workflows (StartSyncExecution, no history, execution logs in CloudWatch Logs);
- `logs_filter_patterns`: FilterLogEvents with JSON filter patterns;
- `autoscaling`: tags on scalable targets;
- `monitoring_schedules`: SageMaker monitoring schedules;
- `events`: EventBridge delivery to Lambda and Step Functions targets;
- `function_urls`: Lambda function URLs served (AWS_IAM: SigV4 checked), payload format 2.0, the 6 MB limit;
- `sagemaker_jobs`: training jobs run `train.py` locally; endpoints go Creating → InService; UpdateEndpoint, with
  deployment guardrails (canary/linear traffic shifting, auto-rollback on alarms: `cloudwatch_alarms`);
- `model_registry`: the Model Registry calls moto lacks or gets wrong (UpdateModelPackage, deletions);
- `sfn_sagemaker`: the Step Functions SageMaker integrations (`createTrainingJob.sync` and the deploy calls);
- `s3_policies`: bucket policies evaluated with the request context (TLS-only policies included);
- `s3_delete_markers`: buckets with delete markers can be emptied once their versioning is suspended;
- `dispatch`: moto's service lookup without a directory listing per request;
- `iam`: every call made with a role's credentials is checked against that role's policies (`ctx.iam`).

Tests use it through the `local_aws` fixture; `python -m local_aws` runs it for `make demo` and for people.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local_aws.autoscaling import install as install_autoscaling
from local_aws.dispatch import install as install_dispatch
from local_aws.endpoints import EndpointHost
from local_aws.endpoints import install as install_endpoints
from local_aws.events import install as install_events
from local_aws.function_urls import install as install_function_urls
from local_aws.iam import IamEnforcer
from local_aws.iam import install as install_iam
from local_aws.lambda_runtime import LambdaRuntime
from local_aws.lambda_runtime import install as install_lambdas
from local_aws.logs_filter_patterns import install as install_logs_filter_patterns
from local_aws.model_registry import install as install_model_registry
from local_aws.monitoring_schedules import MonitoringScheduleStore
from local_aws.monitoring_schedules import install as install_monitoring_schedules
from local_aws.s3_delete_markers import install as install_s3_delete_markers
from local_aws.s3_policies import install as install_s3_policies
from local_aws.sagemaker_jobs import install as install_sagemaker_jobs
from local_aws.sfn_express import install as install_sfn_express
from local_aws.sfn_sagemaker import install as install_sfn_sagemaker
from local_aws.stepfunctions import install as install_stepfunctions

LOG = logging.getLogger(__name__)
DEFAULT_REGION = "eu-west-1"
HOST = "127.0.0.1"


@dataclass
class LocalAws:
    """A running embedded AWS: where it listens and the local compute behind it."""

    endpoint_url: str
    port: int
    region: str
    work_dir: Path
    lambdas: LambdaRuntime
    endpoints: EndpointHost
    iam: IamEnforcer
    monitoring_schedules: MonitoringScheduleStore = field(default_factory=MonitoringScheduleStore)
    _server: Any = field(repr=False, default=None)

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client bound to this embedded AWS."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=kwargs.pop("region_name", self.region),
            aws_access_key_id=kwargs.pop("aws_access_key_id", "local"),
            aws_secret_access_key=kwargs.pop("aws_secret_access_key", "local"),
            config=kwargs.pop("config", Config(retries={"max_attempts": 2, "mode": "standard"})),
            **kwargs,
        )

    def environment(self) -> dict[str, str]:
        """Variables that point the AWS CLI, boto3 and Terraform at this embedded AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            # StartSyncExecution's host is sync-<endpoint>: an IP address cannot take the prefix.
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        }

    def stop(self) -> None:
        self.lambdas.shutdown()
        self.endpoints.stop()
        if self._server is not None:
            self._server.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _emf_to_cloudwatch(ctx_holder: dict) -> Any:
    """Turn a function's embedded-metric-format log line into CloudWatch metrics, as the Lambda service does."""

    def on_log_line(function_name: str, region: str, line: str) -> None:
        if '"_aws"' not in line:
            return
        try:
            document = json.loads(line)
            directives = document["_aws"]["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            return
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[ctx_holder["account"]][region]
        for directive in directives:
            dimension_names = {name for group in directive.get("Dimensions", []) for name in group}
            dimensions = [
                {"Name": name, "Value": str(document[name])} for name in sorted(dimension_names) if name in document
            ]
            data = []
            for metric in directive.get("Metrics", []):
                values = document.get(metric["Name"])
                for value in values if isinstance(values, list) else [values]:
                    if isinstance(value, int | float):
                        data.append(
                            {
                                "MetricName": metric["Name"],
                                "Value": float(value),
                                "Unit": metric.get("Unit", "None"),
                                "Dimensions": dimensions,
                            }
                        )
            if data:
                backend.put_metric_data(directive["Namespace"], data)

    return on_log_line


def start(port: int | None = None, work_dir: Path | None = None, region: str = DEFAULT_REGION) -> LocalAws:
    """Start the embedded AWS in this process and return how to reach it."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Failed states are in the execution history; the interpreter would also log each one as an ERROR.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    port = port or _free_port()
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="local-aws-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    endpoint_url = f"http://{HOST}:{port}"
    # moto's Step Functions interpreter reaches the other services over HTTP on this port.
    os.environ["MOTO_PORT"] = str(port)
    default_user_config["stepfunctions"]["execute_state_machine"] = True

    ctx_holder = {"account": DEFAULT_ACCOUNT_ID}
    lambdas = LambdaRuntime(work_dir, endpoint_url, on_log_line=_emf_to_cloudwatch(ctx_holder))
    iam = IamEnforcer(work_dir, DEFAULT_ACCOUNT_ID, region)
    lambdas.credentials = iam.credentials
    ctx = LocalAws(endpoint_url, port, region, work_dir, lambdas, EndpointHost(work_dir / "endpoints", iam=iam), iam)

    install_lambdas(ctx)
    install_endpoints(ctx)
    install_stepfunctions(ctx)
    install_sfn_express(ctx)  # after stepfunctions: it wraps the StartExecution installed there
    install_logs_filter_patterns(ctx)
    install_autoscaling(ctx)
    install_monitoring_schedules(ctx)
    install_events(ctx)
    install_function_urls(ctx)
    install_sagemaker_jobs(ctx)
    install_model_registry(ctx)
    install_sfn_sagemaker(ctx)
    install_s3_policies(ctx)
    install_s3_delete_markers(ctx)
    install_dispatch(ctx)
    install_iam(ctx)

    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    ctx._server = server
    LOG.info("embedded AWS listening on %s (work dir %s)", endpoint_url, work_dir)
    return ctx
