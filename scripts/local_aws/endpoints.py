"""SageMaker hosting for the embedded AWS: InvokeEndpoint answered by the deployed model, with data capture.

An endpoint's model is found as on AWS: endpoint → endpoint config → production variant → model →
`ModelDataUrl`. The model.tar.gz is read from the local S3, unpacked once per artifact, and served by a
`model_server.py` process running its `code/inference.py`. When the endpoint config enables data capture, each
sampled request/response pair is written to the capture S3 URI in SageMaker's JSON Lines format under
`<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/`. Faults can be switched on for reliability tests, for every
request or only for those a given model answers.

Each invocation that reaches a model publishes the endpoint's CloudWatch metrics in AWS/SageMaker with the
dimensions EndpointName and VariantName (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html):
Invocations (1), Invocation4XXErrors and Invocation5XXErrors ("For each 4xx/5xx response, 1 is sent; otherwise,
0 is sent": a model error answered 400 counts as 4XX, one answered 500, or a model that failed to load, as 5XX)
and, for an answer, ModelLatency in microseconds. Requests refused before a model (throttling, an endpoint not in
service) publish nothing; the page does not say whether AWS counts them. During a blue/green update both fleets
publish under the same dimensions, so an alarm on them watches the old and the new fleet together, as the
guardrails page's first alarm example describes
(https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html).

While an update with deployment guardrails shifts traffic (local_aws.sagemaker_jobs), `shifts` holds the share of
requests the new fleet gets; requests are routed to the two fleets in that proportion, deterministically (every
k-th request goes to the new fleet). AWS documents the share, not how single requests are picked.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import random
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

LOG = logging.getLogger(__name__)
MODEL_SERVER_SCRIPT = Path(__file__).with_name("model_server.py")
MODEL_LOAD_TIMEOUT_S = 120
REQUEST_TIMEOUT_S = 60


@dataclass
class EndpointFault:
    """Make the next `count` invocations of an endpoint fail with an AWS error code (reliability tests).

    With `model_name`, only invocations that the named model would answer fail (the new fleet of a blue/green
    update, say); the others are answered as usual. ModelError stands for the model's container answering 500."""

    error_code: str  # ThrottlingException, ServiceUnavailable, InternalFailure, ModelError
    count: int
    model_name: str | None = None


@dataclass
class TrafficShift:
    """A blue/green update in progress: which share of the endpoint's requests the new fleet answers."""

    old_config: str
    new_config: str
    share: float = 0.0
    _routed: int = 0
    _to_new: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_share(self, share: float) -> None:
        with self._lock:
            self.share, self._routed, self._to_new = share, 0, 0

    def route(self) -> str:
        """The endpoint config of the fleet that answers the next request."""
        with self._lock:
            self._routed += 1
            if self._to_new + 1 <= self.share * self._routed + 1e-9:
                self._to_new += 1
                return self.new_config
            return self.old_config


@dataclass
class InvokeResult:
    status: int
    headers: dict[str, str]
    body: bytes


class ModelServer:
    """One warm model process per model artifact; requests are serialised through it."""

    def __init__(self, model_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(MODEL_SERVER_SCRIPT), str(model_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(model_dir / "server.log", "a"),  # noqa: SIM115
            text=True,
            bufsize=1,
        )
        self.lock = threading.Lock()
        ready = self._read(MODEL_LOAD_TIMEOUT_S)
        if not ready.get("ok"):
            self.process.kill()
            raise ModelLoadError(ready.get("error", "model server exited while loading"))

    def _read(self, timeout: float) -> dict:
        result: list[str | None] = [None]

        def read() -> None:
            result[0] = self.process.stdout.readline()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive() or not result[0]:
            self.process.kill()
            return {
                "ok": False,
                "error": "model server did not answer in time"
                if reader.is_alive()
                else f"model server exited with status {self.process.wait()}",
            }
        return json.loads(result[0])

    def predict(self, body: bytes, content_type: str, accept: str) -> dict:
        with self.lock:
            if self.process.poll() is not None:
                return {"ok": False, "error": "model server is not running"}
            request = {"body": base64.b64encode(body).decode(), "content_type": content_type, "accept": accept}
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            return self._read(REQUEST_TIMEOUT_S)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class ModelLoadError(Exception):
    """The model artifact could not be loaded by its serving code."""


@dataclass
class EndpointHost:
    work_dir: Path
    iam: Any = None  # the IAM enforcer: data capture writes to S3 as the model's execution role
    faults: dict[str, EndpointFault] = field(default_factory=dict)
    shifts: dict[tuple[str, str, str], TrafficShift] = field(default_factory=dict)
    _servers: dict[str, ModelServer] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- moto state ---------------------------------------------------------------------------------------------
    @staticmethod
    def _sagemaker(account: str, region: str) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[account][region]

    @staticmethod
    def _s3_object(account: str, uri: str) -> bytes:
        from moto.s3.models import s3_backends

        parsed = urlparse(uri)
        return s3_backends[account]["global"].get_object(parsed.netloc, parsed.path.lstrip("/")).value

    @staticmethod
    def _put_s3_object(account: str, uri: str, body: bytes) -> None:
        from moto.s3.models import s3_backends

        parsed = urlparse(uri)
        s3_backends[account]["global"].put_object(parsed.netloc, parsed.path.lstrip("/"), body)

    def resolve(self, account: str, region: str, endpoint_name: str) -> tuple[Any, dict, dict, str, str | None]:
        """Endpoint → (endpoint, endpoint config's capture settings, variant, model data URL, model's role) of
        the fleet that answers this request (the new one for its share of requests during a blue/green update)."""
        backend = self._sagemaker(account, region)
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None:
            raise EndpointMissing(f"Endpoint {endpoint_name} of account {account} not found.")
        if endpoint.endpoint_status not in {"InService", "Updating"}:
            raise EndpointMissing(f"Endpoint {endpoint_name} is not in service (status {endpoint.endpoint_status}).")
        shift = self.shifts.get((account, region, endpoint_name))
        config_name = shift.route() if shift is not None else endpoint.endpoint_config_name
        config = backend.endpoint_configs[config_name]
        variant = config.production_variants[0]
        model = backend._models[variant["ModelName"]]
        container = model.primary_container or (model.containers or [{}])[0]
        model_data = container.get("ModelDataUrl")
        if not model_data:
            raise EndpointMissing(f"model {model.model_name} has no ModelDataUrl to serve")
        return endpoint, config.data_capture_config or {}, variant, model_data, model.execution_role_arn

    def server_for(self, account: str, model_data: str) -> ModelServer:
        with self._lock:
            server = self._servers.get(model_data)
            if server is not None and server.process.poll() is None:
                return server
            model_dir = self.work_dir / "models" / uuid.uuid5(uuid.NAMESPACE_URL, model_data).hex
            if not model_dir.is_dir():
                staging = model_dir.with_name(model_dir.name + ".tmp")
                staging.mkdir(parents=True, exist_ok=True)
                with tarfile.open(fileobj=io.BytesIO(self._s3_object(account, model_data)), mode="r:gz") as tar:
                    tar.extractall(staging, filter="data")
                staging.rename(model_dir)
            server = ModelServer(model_dir)
            self._servers[model_data] = server
            return server

    def ready(self, account: str, region: str, endpoint_name: str) -> None:
        """Load the endpoint's model now (endpoint creation waits for this, as AWS waits for health checks)."""
        _endpoint, _capture, _variant, model_data, _role = self.resolve(account, region, endpoint_name)
        self.server_for(account, model_data)

    # -- InvokeEndpoint -----------------------------------------------------------------------------------------
    def _take_fault(self, endpoint_name: str, model_name: str | None) -> EndpointFault | None:
        fault = self.faults.get(endpoint_name)
        if fault is None or fault.count <= 0 or (fault.model_name is not None and fault.model_name != model_name):
            return None
        fault.count -= 1
        return fault

    def invoke(
        self,
        account: str,
        region: str,
        endpoint_name: str,
        body: bytes,
        content_type: str,
        accept: str,
        inference_id: str | None = None,
    ) -> InvokeResult:
        if inference_id is not None and not _valid_inference_id(inference_id):
            # Length 1-64, pattern \A\S[\p{Print}]*\z (API_runtime_InvokeEndpoint.html, InferenceId); a request
            # outside a parameter's constraints is a ValidationError (the API reference's common errors).
            return _error(400, "ValidationError", f"InferenceId {inference_id[:80]!r} is not 1-64 printable characters")
        fault = self.faults.get(endpoint_name)
        if fault is not None and fault.model_name is None and self._take_fault(endpoint_name, None):
            return _fault_error(fault)
        try:
            endpoint, capture, variant, model_data, role = self.resolve(account, region, endpoint_name)
        except EndpointMissing as error:
            return _error(400, "ValidationError", str(error))
        except KeyError as error:
            return _error(424, "ModelError", f"Received server error (500) from primary: {error}")
        metrics = _Invocation(self, account, region, endpoint_name, variant["VariantName"])
        targeted = self._take_fault(endpoint_name, variant.get("ModelName"))
        if targeted is not None:
            if targeted.error_code == "ModelError":
                metrics.publish(status=500)
            return _fault_error(targeted)
        try:
            server = self.server_for(account, model_data)
        except (ModelLoadError, KeyError, tarfile.TarError) as error:
            metrics.publish(status=500)
            return _error(424, "ModelError", f"Received server error (500) from primary: {error}")
        started = time.perf_counter()
        reply = server.predict(body, content_type, accept)
        latency_us = int((time.perf_counter() - started) * 1e6)
        if not reply.get("ok"):
            metrics.publish(status=400)
            return _error(
                424, "ModelError", f'Received client error (400) from primary with message "{reply.get("error")}".'
            )
        metrics.publish(status=200, latency_us=latency_us)
        output = base64.b64decode(reply["body"])
        output_type = reply.get("content_type") or "application/json"
        if capture.get("EnableCapture"):
            self._capture(
                account,
                endpoint_name,
                variant["VariantName"],
                capture,
                body,
                content_type,
                output,
                output_type,
                role,
                inference_id,
            )
        headers = {
            "Content-Type": output_type,
            "x-Amzn-Invoked-Production-Variant": variant["VariantName"],
            "x-local-model-latency-us": str(latency_us),
        }
        LOG.debug("endpoint %s answered in %d us", endpoint.endpoint_name, latency_us)
        return InvokeResult(200, headers, output)

    def _capture(
        self,
        account: str,
        endpoint_name: str,
        variant: str,
        capture: dict,
        body: bytes,
        content_type: str,
        output: bytes,
        output_type: str,
        role_arn: str | None = None,
        inference_id: str | None = None,
    ) -> None:
        if random.uniform(0, 100) >= float(capture.get("InitialSamplingPercentage", 100)):
            return
        modes = {option.get("CaptureMode") for option in capture.get("CaptureOptions", [])} or {"Input", "Output"}
        json_types = set((capture.get("CaptureContentTypeHeader") or {}).get("JsonContentTypes", []))
        now = datetime.now(UTC)

        def encode(data: bytes, observed: str, mode: str) -> dict:
            if observed.split(";")[0] in json_types:
                return {"observedContentType": observed, "mode": mode, "data": data.decode(), "encoding": "JSON"}
            return {
                "observedContentType": observed,
                "mode": mode,
                "data": base64.b64encode(data).decode(),
                "encoding": "BASE64",
            }

        # The caller's InferenceId goes into the captured record: "If you provide a value, it is added to the
        # captured data when you enable data capture on the endpoint"
        # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html), as
        # `eventMetadata.inferenceId` beside the generated eventId, which is where Model Monitor's ground-truth merge
        # looks for it ("If inferenceId is present in captured data records, Model Monitor uses it",
        # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-merge.html; the record
        # preprocessor's documented `event_metadata.inference_id`,
        # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-pre-and-post-processing.html). Without one
        # the key is absent: the pages show records without it.
        metadata = {"eventId": str(uuid.uuid4())}
        if inference_id:
            metadata["inferenceId"] = inference_id
        metadata["inferenceTime"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        record: dict[str, Any] = {"captureData": {}, "eventMetadata": metadata, "eventVersion": "0"}
        if "Input" in modes:
            record["captureData"]["endpointInput"] = encode(body, content_type, "INPUT")
        if "Output" in modes:
            record["captureData"]["endpointOutput"] = encode(output, output_type, "OUTPUT")
        destination = capture["DestinationS3Uri"].rstrip("/")
        key = f"{destination}/{endpoint_name}/{variant}/{now:%Y/%m/%d/%H}/{now:%M-%S-%f}-{uuid.uuid4().hex[:8]}.jsonl"
        if not self._may_write(role_arn, key):
            return
        self._put_s3_object(account, key, (json.dumps(record) + "\n").encode())

    def _may_write(self, role_arn: str | None, uri: str) -> bool:
        """Capture files are written as the model's execution role (SageMaker acts through execution roles:
        https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html; the data-capture pages do not name the
        role, so this follows the stack's grant of s3:PutObject on the capture prefix to it). Nor do they say what a
        refused write does to the request; here the request is answered and the record lost."""
        if self.iam is None or not role_arn:
            return True
        from local_aws.iam import AccessDenied, s3_need

        try:
            session = self.iam.cached_session(role_arn, "sagemaker.amazonaws.com", "SageMaker")
            self.iam.authorize(session, [s3_need("s3:PutObject", uri)], via="sagemaker.amazonaws.com")
        except AccessDenied:
            return False
        return True

    def stop(self) -> None:
        with self._lock:
            for server in self._servers.values():
                server.stop()
            self._servers.clear()


class EndpointMissing(Exception):
    """InvokeEndpoint names an endpoint that does not exist or is not in service."""


@dataclass
class _Invocation:
    """The AWS/SageMaker metrics of one invocation that reached a model."""

    host: EndpointHost
    account: str
    region: str
    endpoint_name: str
    variant_name: str

    def publish(self, status: int, latency_us: int | None = None) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        dimensions = [
            {"Name": "EndpointName", "Value": self.endpoint_name},
            {"Name": "VariantName", "Value": self.variant_name},
        ]
        data = [
            {"MetricName": "Invocations", "Value": 1.0, "Unit": "None", "Dimensions": dimensions},
            {
                "MetricName": "Invocation4XXErrors",
                "Value": float(400 <= status < 500),
                "Unit": "None",
                "Dimensions": dimensions,
            },
            {
                "MetricName": "Invocation5XXErrors",
                "Value": float(status >= 500),
                "Unit": "None",
                "Dimensions": dimensions,
            },
        ]
        if latency_us is not None:
            data.append(
                {
                    "MetricName": "ModelLatency",
                    "Value": float(latency_us),
                    "Unit": "Microseconds",
                    "Dimensions": dimensions,
                }
            )
        try:
            cloudwatch_backends[self.account][self.region].put_metric_data("AWS/SageMaker", data)
        except Exception:  # metrics are a side channel: never fail the request for them
            LOG.exception("cannot publish the metrics of endpoint %s", self.endpoint_name)


def _fault_error(fault: EndpointFault) -> InvokeResult:
    status = 424 if fault.error_code == "ModelError" else 400 if fault.error_code == "ThrottlingException" else 503
    if fault.error_code == "ModelError":
        return _error(status, "ModelError", 'Received server error (500) from primary with message "injected fault".')
    return _error(status, fault.error_code, f"injected fault: {fault.error_code}")


def _valid_inference_id(value: str) -> bool:
    """1-64 characters, printable, the first not whitespace (Python's isprintable stands in for \\p{Print})."""
    return 1 <= len(value) <= 64 and not value[0].isspace() and value.isprintable()


def _error(status: int, code: str, message: str) -> InvokeResult:
    return InvokeResult(
        status,
        {"Content-Type": "application/json", "x-amzn-ErrorType": code},
        json.dumps({"message": message}).encode(),
    )


def install(ctx: Any) -> None:
    """Answer sagemaker-runtime:InvokeEndpoint with `ctx.endpoints` instead of moto's canned results."""
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    def invoke_endpoint(self: Any) -> tuple[int, dict[str, str], bytes]:
        endpoint_name = self.path.split("/")[2]
        body = self.raw_body if isinstance(self.raw_body, bytes) else (self.raw_body or "").encode()
        result = ctx.endpoints.invoke(
            self.current_account,
            self.region,
            endpoint_name,
            body,
            self.headers.get("Content-Type", "application/octet-stream"),
            self.headers.get("Accept", "application/json"),
            # InferenceId travels as this header (the API reference's request syntax).
            self.headers.get("X-Amzn-SageMaker-Inference-Id") or None,
        )
        return result.status, {**result.headers, "status": str(result.status)}, result.body

    SageMakerRuntimeResponse.use_raw_body = True  # image bodies are binary; moto would decode them as UTF-8
    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint
