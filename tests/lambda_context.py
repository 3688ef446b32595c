"""The Lambda context object handlers receive, for calling handlers directly in unit tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads (it logs them on every line)."""

    function_name: str = "courier-vehicle-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:courier-vehicle-test"
    aws_request_id: str = "8c1d3c56-0a4e-4f1b-9d5c-2f3b1c0e7a11"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000

    @classmethod
    def for_function(cls, name: str, memory_limit_in_mb: int = 256) -> FakeLambdaContext:
        return cls(
            function_name=name,
            memory_limit_in_mb=memory_limit_in_mb,
            invoked_function_arn=f"arn:aws:lambda:eu-west-1:123456789012:function:{name}",
        )
