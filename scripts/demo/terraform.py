"""Terraform against the embedded AWS: the repository's root module, with local provider settings supplied here.

The root module is applied unchanged; only variables differ from a real deployment (`aws_endpoint_url` and a
few demo choices). State and provider plugins live under the demo's own folder so a demo never touches a
developer's `terraform/.terraform` or real state.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
ROOT_MODULE = REPO_ROOT / "terraform"


class TerraformError(Exception):
    """A terraform command failed; the message carries the end of its output."""


@dataclass
class Terraform:
    work_dir: Path
    variables: dict[str, Any]
    env: dict[str, str]

    @property
    def state(self) -> Path:
        return self.work_dir / "terraform.tfstate"

    def _environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            **self.env,
            "TF_DATA_DIR": str(self.work_dir / ".terraform"),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
        if env.get("TF_CLI_CONFIG_FILE") and not Path(env["TF_CLI_CONFIG_FILE"]).is_file():
            env.pop("TF_CLI_CONFIG_FILE")
        return env

    def _run(self, args: list[str], log_name: str) -> str:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log = self.work_dir / f"{log_name}.log"
        result = subprocess.run(
            args, cwd=REPO_ROOT, env=self._environment(), capture_output=True, text=True, check=False
        )
        log.write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
            raise TerraformError(f"{' '.join(args[:3])} failed (log: {log}):\n{tail}")
        return result.stdout

    def _var_args(self, overrides: dict[str, Any]) -> list[str]:
        values = {**self.variables, **overrides}
        var_file = self.work_dir / "demo.auto.tfvars.json"
        var_file.write_text(json.dumps(values, indent=2))
        return [f"-var-file={var_file}"]

    def init(self) -> None:
        """terraform init, forgetting any state left by an earlier demo: its embedded AWS ended with it."""
        for leftover in (
            self.state,
            self.state.with_name(self.state.name + ".backup"),
            self.work_dir / ".terraform.tfstate.lock.info",
        ):
            leftover.unlink(missing_ok=True)
        self._run([str(REPO_ROOT / "scripts" / "terraform_init"), str(ROOT_MODULE)], "init")

    def apply(self, log_name: str = "apply", **overrides: Any) -> None:
        self._run(
            [
                "terraform",
                f"-chdir={ROOT_MODULE}",
                "apply",
                "-auto-approve",
                "-input=false",
                f"-state={self.state}",
                "-parallelism=10",
                *self._var_args(overrides),
            ],
            log_name,
        )

    def plan(self, log_name: str = "plan", **overrides: Any) -> tuple[Path, dict[str, Any]]:
        """`terraform plan -out`, and the plan as JSON (resource changes, planned values)."""
        plan_file = self.work_dir / f"{log_name}.tfplan"
        self._run(
            [
                "terraform",
                f"-chdir={ROOT_MODULE}",
                "plan",
                "-input=false",
                f"-state={self.state}",
                f"-out={plan_file}",
                *self._var_args(overrides),
            ],
            log_name,
        )
        shown = self._run(["terraform", f"-chdir={ROOT_MODULE}", "show", "-json", str(plan_file)], f"{log_name}-show")
        return plan_file, json.loads(shown)

    def start_apply(self, plan_file: Path, log_name: str = "apply") -> RunningApply:
        """Apply a saved plan in the background, following which resources are done as Terraform reports them."""
        args = [
            "terraform",
            f"-chdir={ROOT_MODULE}",
            "apply",
            "-input=false",
            "-no-color",
            f"-state={self.state}",
            "-parallelism=10",
            str(plan_file),
        ]
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return RunningApply(args, self._environment(), self.work_dir / f"{log_name}.log")

    def destroy(self, **overrides: Any) -> None:
        self._run(
            [
                "terraform",
                f"-chdir={ROOT_MODULE}",
                "destroy",
                "-auto-approve",
                "-input=false",
                f"-state={self.state}",
                *self._var_args(overrides),
            ],
            "destroy",
        )

    def outputs(self) -> dict[str, Any]:
        raw = json.loads(
            self._run(["terraform", f"-chdir={ROOT_MODULE}", "output", "-json", f"-state={self.state}"], "output")
        )
        return {name: item["value"] for name, item in raw.items()}

    def show(self) -> dict[str, Any]:
        """`terraform show -json` of the state: every resource as applied, policy documents included."""
        return json.loads(self._run(["terraform", f"-chdir={ROOT_MODULE}", "show", "-json", str(self.state)], "show"))

    def resources(self) -> list[str]:
        if not self.state.is_file():
            return []
        return [
            line
            for line in self._run(
                ["terraform", f"-chdir={ROOT_MODULE}", "state", "list", f"-state={self.state}"], "state"
            ).splitlines()
            if line
        ]


_DONE_LINE = re.compile(r"^(?P<address>\S+): (?:Creation|Modifications|Destruction) complete after ")


@dataclass
class RunningApply:
    """A `terraform apply` running in the background; callers wait for the resources they need, not for all."""

    args: list[str]
    env: dict[str, str]
    log: Path
    done: set[str] = field(default_factory=set)
    returncode: int | None = None

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self._process = subprocess.Popen(
            self.args, cwd=REPO_ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._follow, name="terraform-apply", daemon=True)
        self._reader.start()

    def _follow(self) -> None:
        assert self._process.stdout is not None
        with self.log.open("w") as log:
            for line in self._process.stdout:
                log.write(line)
                match = _DONE_LINE.match(line)
                if match:
                    with self._changed:
                        self.done.add(match["address"])
                        self._changed.notify_all()
        code = self._process.wait()
        with self._changed:
            self.returncode = code
            self._changed.notify_all()

    def _failure(self) -> TerraformError:
        tail = "\n".join(self.log.read_text().strip().splitlines()[-25:])
        return TerraformError(f"terraform apply failed (log: {self.log}):\n{tail}")

    def wait_for(self, addresses: Iterable[str], timeout: float = 900) -> None:
        """Return once every address is applied (or the apply ended well); raise if the apply failed first."""
        wanted = set(addresses)
        with self._changed:
            finished = self._changed.wait_for(
                lambda: wanted <= self.done or self.returncode is not None, timeout=timeout
            )
            if not finished:
                raise TerraformError(f"terraform apply has not applied {sorted(wanted - self.done)} in {timeout:.0f} s")
            if self.returncode not in (None, 0) and not wanted <= self.done:
                raise self._failure()

    def wait(self, timeout: float = 1800) -> None:
        """Wait for the whole apply; raise TerraformError if it failed."""
        self._reader.join(timeout)
        if self.returncode is None:
            raise TerraformError(f"terraform apply still running after {timeout:.0f} s (log: {self.log})")
        if self.returncode != 0:
            raise self._failure()

    def stop(self) -> None:
        """Interrupt the apply (as Ctrl-C would) if it is still running; used when another stage failed."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._reader.join(5)


def planned_changes(plan: dict[str, Any], prefixes: Iterable[str]) -> set[str]:
    """Addresses of the managed resources a plan creates or changes whose address starts with one of `prefixes`."""
    starts = tuple(prefixes)
    return {
        change["address"]
        for change in plan.get("resource_changes", [])
        if change.get("mode") == "managed"
        and change["address"].startswith(starts)
        and set(change["change"]["actions"]) & {"create", "update"}
    }


def planned_value(plan: dict[str, Any], address: str, attribute: str) -> Any:
    """An attribute of a resource as planned (only values known at plan time, e.g. names)."""
    for change in plan.get("resource_changes", []):
        if change["address"] == address:
            return (change["change"].get("after") or {}).get(attribute)
    raise KeyError(f"the plan has no resource {address}")
