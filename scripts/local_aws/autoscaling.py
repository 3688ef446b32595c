"""Application Auto Scaling tags for the embedded AWS: the AWS provider reads them after registering a target."""

from __future__ import annotations

import json
import threading
from typing import Any


def install(ctx: Any) -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    tags: dict[str, dict[str, str]] = {}
    lock = threading.Lock()
    moto_register = ApplicationAutoScalingResponse.register_scalable_target

    def register_scalable_target(self: Any) -> Any:
        result = moto_register(self)
        requested = self._get_param("Tags")
        if requested:
            arn = self._get_param("ResourceId")
            target = next(
                (
                    t
                    for t in self.applicationautoscaling_backend.describe_scalable_targets(
                        self._get_param("ServiceNamespace"), [arn], None
                    )
                ),
                None,
            )
            if target is not None:
                with lock:
                    tags.setdefault(target.arn, {}).update(requested)
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

    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource
    ApplicationAutoScalingResponse.tag_resource = tag_resource
    ApplicationAutoScalingResponse.untag_resource = untag_resource
