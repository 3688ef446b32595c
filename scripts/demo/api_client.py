"""A caller of the inference HTTPS API (a Lambda function URL with AWS_IAM auth), as the courier app would be.

Every request is signed with SigV4 for the service `lambda` (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html)
by botocore's signer, with whatever credentials boto3 finds (the caller's role on AWS, the embedded AWS's key
locally). `post(..., sign=False)` sends the same request unsigned, which the function URL must refuse.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


@dataclass
class ApiAnswer:
    status: int
    body: dict[str, Any]
    seconds: float


def post(
    url: str,
    body: bytes,
    content_type: str,
    region: str,
    sign: bool = True,
    credentials: Any = None,
    timeout: float = 60,
) -> ApiAnswer:
    """POST one request to the function URL and return its status and JSON body.

    `credentials` (botocore Credentials) default to what boto3 finds in the environment.
    """
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": content_type})
    if sign:
        credentials = credentials or boto3.Session().get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials to sign the request with")
        SigV4Auth(credentials.get_frozen_credentials(), "lambda", region).add_auth(request)
    prepared = request.prepare()
    started = time.monotonic()
    http_request = urllib.request.Request(url, data=body, headers=dict(prepared.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    seconds = time.monotonic() - started
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {"raw": raw.decode("utf-8", errors="replace")}
    return ApiAnswer(status, parsed if isinstance(parsed, dict) else {"value": parsed}, seconds)


def exercise(url: str, images: list[tuple[bytes, str]], region: str) -> dict[str, Any]:
    """Send each (image, true label) as the courier app would, then the requests the API must refuse.

    Returns what a report needs: per-request answers, routes, latency, and the statuses of an unsigned, a
    malformed and an oversize request (403, 400 and 413 when the API behaves).
    """
    answers = []
    for data, true_label in images:
        answer = post(url, data, "image/png", region)
        answers.append(
            {"status": answer.status, "true_label": true_label, "seconds": round(answer.seconds, 3)} | answer.body
        )
    refused = {
        "unsigned": post(
            url, b'{"s3_bucket": "b", "s3_key": "incoming/x.png"}', "application/json", region, sign=False
        ),
        "malformed": post(url, b'{"s3_bucket": ', "application/json", region),
        "oversize": post(url, b"\x89PNG" + bytes(5 * 2**20), "image/png", region),
    }
    latencies = sorted(a["seconds"] for a in answers if a["status"] == 200)
    return {
        "requests": len(answers),
        "answered": sum(1 for a in answers if a["status"] == 200),
        "routes": {
            route: sum(1 for a in answers if a.get("route") == route)
            for route in {a.get("route") for a in answers}
            if route
        },
        "p50_seconds": latencies[len(latencies) // 2] if latencies else None,
        "max_seconds": latencies[-1] if latencies else None,
        "refused": {
            name: {"status": a.status, "error": a.body.get("error") or a.body.get("Message")}
            for name, a in refused.items()
        },
        "answers": answers,
    }
