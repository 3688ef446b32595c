"""The Terraform READMEs' Inputs/Outputs tables are the .tf files' (scripts/terraform_docs), and every
`terraform output <name>` the docs and scripts tell someone to run names an output the root module has."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = REPO_ROOT / "terraform"
TERRAFORM_DOCS = REPO_ROOT / "scripts" / "terraform_docs"
# terraform [-chdir=DIR] output [-raw|-json|-no-color|-state=FILE ...] NAME
OUTPUT_COMMAND = re.compile(
    r"terraform(?:\s+-chdir=\S+)?\s+output((?:\s+-(?:raw|json|no-color|state=\S+))*)\s+([a-z_][a-z0-9_]*)"
)
# Python that indexes the dict of Terraform's outputs by name (the demo and the load test read them so).
OUTPUT_LOOKUP = re.compile(r"\boutputs(?:\[|\.get\()\"([a-z_][a-z0-9_]*)\"")
SCRIPTS_THAT_READ_OUTPUTS = ["scripts/demo/__main__.py", "scripts/load_test_inference"]


def terraform_docs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TERRAFORM_DOCS), *args], capture_output=True, text=True, check=False)


def test_every_readme_table_matches_its_module():
    result = terraform_docs("--check")
    assert result.returncode == 0, result.stderr


def copy_of_the_modules(destination: Path) -> Path:
    """The root module and its modules' .tf files and READMEs (no .terraform, no tests)."""
    for folder in [TERRAFORM, *sorted((TERRAFORM / "modules").iterdir())]:
        target = destination / folder.relative_to(TERRAFORM.parent)
        target.mkdir(parents=True, exist_ok=True)
        for path in [*folder.glob("*.tf"), folder / "README.md"]:
            shutil.copy2(path, target / path.name)
    return destination / "terraform"


NEW_VARIABLE = '''
variable "review_sla_minutes" {
  description = "Minutes a person has to decide | a review."
  type = object({
    warn  = optional(number, 30) # comment that is not part of the type
    page  = number
  })
}

variable "reviewer_groups" {
  description = "Who reviews."
  type        = map(string)
  default = {
    "couriers-eu" = "eu-west-1"
    "couriers-us" = "us-east-1"
  }
}
'''


def test_a_variable_added_without_regenerating_fails_the_check_naming_readme_and_command(tmp_path):
    terraform_dir = copy_of_the_modules(tmp_path)
    variables = terraform_dir / "modules" / "storage" / "variables.tf"
    variables.write_text(variables.read_text() + NEW_VARIABLE)

    stale = terraform_docs("--check", "--terraform-dir", str(terraform_dir))
    assert stale.returncode == 1
    assert "terraform/modules/storage/README.md" in stale.stderr
    assert "make docs" in stale.stderr
    assert "terraform/README.md" not in stale.stderr, "only the module whose variables changed is stale"

    assert terraform_docs("--terraform-dir", str(terraform_dir)).returncode == 0
    readme = (terraform_dir / "modules" / "storage" / "README.md").read_text()
    assert ("| `review_sla_minutes` | Minutes a person has to decide \\| a review. | "
            "`object({ warn = optional(number, 30), page = number })` | n/a | yes |") in readme
    assert ('| `reviewer_groups` | Who reviews. | `map(string)` | '
            '`{ "couriers-eu" = "eu-west-1", "couriers-us" = "us-east-1" }` | no |') in readme
    assert "own role's policy; the bucket policy only adds the TLS rule." in readme, "the hand-written text stays"
    assert terraform_docs("--check", "--terraform-dir", str(terraform_dir)).returncode == 0


def test_a_removed_output_leaves_the_table(tmp_path):
    terraform_dir = copy_of_the_modules(tmp_path)
    outputs = terraform_dir / "modules" / "storage" / "outputs.tf"
    outputs.write_text(re.sub(r'output "bucket_policy_json" \{.*?\n\}\n', "", outputs.read_text(), flags=re.DOTALL))
    assert terraform_docs("--check", "--terraform-dir", str(terraform_dir)).returncode == 1
    assert terraform_docs("--terraform-dir", str(terraform_dir)).returncode == 0
    assert "bucket_policy_json" not in (terraform_dir / "modules" / "storage" / "README.md").read_text()


def root_outputs() -> set[str]:
    names: set[str] = set()
    for path in TERRAFORM.glob("*.tf"):
        with path.open() as file:
            for block in hcl2.load(file).get("output", []):
                names.update(block)
    return names


def places_that_name_outputs() -> list[Path]:
    """Every Markdown file and every script of the checkout (git's list: no .venv, no build outputs)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return [REPO_ROOT / name for name in listed
            if (name.endswith(".md") or name.startswith("scripts/")) and (REPO_ROOT / name).is_file()]


def test_every_terraform_output_the_docs_and_scripts_read_exists():
    known = root_outputs()
    named: list[tuple[str, str]] = []
    for path in places_that_name_outputs():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        where = str(path.relative_to(REPO_ROOT))
        named += [(where, match.group(2)) for match in OUTPUT_COMMAND.finditer(text)]
        if where in SCRIPTS_THAT_READ_OUTPUTS:
            named += [(where, name) for name in OUTPUT_LOOKUP.findall(text)]
    assert any(where == "docs/runbook.md" for where, _ in named), "the runbook reads outputs; the pattern missed them"
    assert any(where in SCRIPTS_THAT_READ_OUTPUTS for where, _ in named), "the demo reads outputs by name"
    unknown = sorted({(where, name) for where, name in named if name not in known})
    assert not unknown, f"these name no output of terraform/outputs.tf: {unknown}"


def test_the_output_pattern_reads_each_form():
    text = ('terraform output launch_command; $(terraform -chdir=terraform output -raw human_review_queue_url); '
            'terraform output -json kms_key_principals')
    assert [m.group(2) for m in OUTPUT_COMMAND.finditer(text)] == [
        "launch_command", "human_review_queue_url", "kms_key_principals"]
