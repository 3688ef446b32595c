"""No credentials and no account IDs in the repository: names, ARNs and endpoints come from Terraform at deploy time.

Twelve-digit numbers are allowed only where they are AWS's own publishing accounts (resources AWS shares with
every account) or the documentation placeholders that sample events and tests use.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Where an account ID goes: an ARN's account field, an ECR registry host, an "account"/"account_id" value.
ACCOUNT_ID = re.compile(
    r"(?::([0-9]{12}):)|(?:\b([0-9]{12})\.dkr\.ecr\.)|(?:account(?:_id|Id)?[\"']?\s*[:=]\s*[\"']([0-9]{12})\b)"
)
ALLOWED_ACCOUNTS = {
    "017000801446": "AWS's account that publishes the Powertools for AWS Lambda layers",
    "468650794304": "AWS's Model Monitor analyzer image registry in eu-west-1 (sample events, module tests)",
    "763104351884": "AWS's Deep Learning Containers registry (PyTorch training and serving images)",
    "123456789012": "placeholder account of AWS's documentation and moto",
    "685385470294": "AWS's built-in algorithm registry in eu-west-1 (image-classification)",
    "111122223333": "placeholder account of AWS's documentation",
    "999999999999": "placeholder for a foreign account in the IAM audit's rule tests",
}
ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
SECRET_ASSIGNMENT = re.compile(
    r"(?i)aws_secret_access_key[\"']?\s*[:=]\s*[\"']?(?!local\b|testing\b|offline-test\b|sk\b)[A-Za-z0-9/+=]{20,}"
)


def tracked_text_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True, text=True
        ).stdout.split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    files = []
    for name in filter(None, listed):
        path = REPO_ROOT / name
        if path.is_file() and b"\0" not in path.read_bytes()[:4096]:
            files.append(path)
    return files


def test_only_aws_owned_or_placeholder_account_ids_appear():
    found = {}
    for path in tracked_text_files():
        for groups in ACCOUNT_ID.findall(path.read_text(errors="replace")):
            number = "".join(groups)
            if number not in ALLOWED_ACCOUNTS:
                found.setdefault(number, path.relative_to(REPO_ROOT).as_posix())
    assert found == {}, f"account-like numbers (first file each): {found}"


def test_no_access_keys_or_secret_keys_are_committed():
    leaks = []
    for path in tracked_text_files():
        text = path.read_text(errors="replace")
        leaks += [f"{path.relative_to(REPO_ROOT)}: {m.group(0)[:12]}..." for m in ACCESS_KEY.finditer(text)]
        leaks += [f"{path.relative_to(REPO_ROOT)}: {m.group(0)[:30]}..." for m in SECRET_ASSIGNMENT.finditer(text)]
    assert leaks == []


def test_the_scanners_recognise_what_they_look_for():
    def accounts(text: str) -> list[str]:
        return ["".join(groups) for groups in ACCOUNT_ID.findall(text)]

    foreign = "21098765" + "4321"  # built here so that this file passes its own scan
    assert accounts(f"arn:aws:iam::{foreign}:role/x") == [foreign]
    assert accounts(f"{foreign}.dkr.ecr.eu-west-1.amazonaws.com/x") == [foreign]
    assert accounts(f'{{"account": "{foreign}"}}') == [foreign]
    assert accounts(f'account_id = "{foreign}"') == [foreign]
    assert accounts("job model-monitoring-202501011300-3c5a") == []
    key_name, key_id = "aws_secret_access_key", "AKIA" + "ABCDEFGHIJKLMNOP"
    assert ACCESS_KEY.search(f"key {key_id} here")
    assert SECRET_ASSIGNMENT.search(f'{key_name} = "{"wJalrXUtnFEMI" + "K7MDENGbPxRfiCYEXAMPLEKEY"}"')
    assert not SECRET_ASSIGNMENT.search(f'{key_name}="local"')
