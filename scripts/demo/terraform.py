"""Terraform against the embedded AWS: the repository's root module, with local provider settings supplied here.

The root module is applied unchanged; only variables differ from a real deployment (`aws_endpoint_url` and a
few demo choices). State and provider plugins live under the demo's own folder so a demo never touches a
developer's `terraform/.terraform` or real state.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
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
