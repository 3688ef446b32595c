"""Application Auto Scaling for the embedded AWS: tags on scalable targets (the AWS provider reads them after
registering a target), and a SageMaker variant's capacity kept inside its target's range.

RegisterScalableTarget "changes the resource's current capacity to a value that is inside of this range" unless the
resource is not active
(https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html); for a
SageMaker variant that is its instance count (DescribeEndpoint's DesiredInstanceCount), which Application Auto
Scaling changes through UpdateEndpointWeightsAndCapacities. Scaling policies are stored but never run: no
CloudWatch alarm drives them here, so a fleet changes size only by a registration, by
UpdateEndpointWeightsAndCapacities or by UpdateEndpoint.
"""

from __future__ import annotations

import json
import threading
from typing import Any

SAGEMAKER_VARIANT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def clamp_variant_capacity(account: str, region: str, target: Any) -> int | None:
    """Bring a SageMaker variant into [MinCapacity, MaxCapacity]; the new count, or None when nothing changed (no
    endpoint in service, already inside the range, or not a SageMaker variant target)."""
    from local_aws.sagemaker_jobs import scale_variant, variant_instance_count

    if target.service_namespace != "sagemaker" or target.scalable_dimension != SAGEMAKER_VARIANT_DIMENSION:
        return None
    parts = target.resource_id.split("/")
    if len(parts) != 4 or parts[0] != "endpoint" or parts[2] != "variant":
        return None
    endpoint_name, variant_name = parts[1], parts[3]
    count = variant_instance_count(account, region, endpoint_name, variant_name)
    if count is None:
        return None
    wanted = min(max(count, target.min_capacity), target.max_capacity)
    if wanted == count or not scale_variant(account, region, endpoint_name, variant_name, wanted):
        return None
    return wanted


def install(ctx: Any) -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    tags: dict[str, dict[str, str]] = {}
    lock = threading.Lock()
    moto_register = ApplicationAutoScalingResponse.register_scalable_target
    if getattr(moto_register, "_local_aws", False):
        return

    def register_scalable_target(self: Any) -> Any:
        result = moto_register(self)
        backend = self.applicationautoscaling_backend
        target = next(
            iter(
                backend.describe_scalable_targets(
                    self._get_param("ServiceNamespace"), [self._get_param("ResourceId")], None
                )
            ),
            None,
        )
        if target is None:
            return result
        requested = self._get_param("Tags")
        if requested:
            with lock:
                tags.setdefault(target.arn, {}).update(requested)
        clamp_variant_capacity(backend.account_id, backend.region_name, target)
        return result

    def list_tags_for_resource(self: Any) -> str:
        with lock:
            return json.dumps({"Tags": dict(tags.get(self._get_param("ResourceARN"), {}))})

    def tag_resource(self: Any) -> str:
        with lock:
            tags.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self: Any) -> str:
        with lock:
            current = tags.get(self._get_param("ResourceARN"), {})
            for key in self._get_param("TagKeys") or []:
                current.pop(key, None)
        return "{}"

    register_scalable_target._local_aws = True  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource
    ApplicationAutoScalingResponse.tag_resource = tag_resource
    ApplicationAutoScalingResponse.untag_resource = untag_resource
