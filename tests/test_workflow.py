"""The forge workflow (.github/workflows/book.yml): valid against the workflow schema, audited, and
running the README's own commands. The linters come with the test extra; without them the checks skip."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _tool(name: str) -> str:
    """The path of a command-line tool (beside this Python first: `make test` does not activate the
    venv), or a skip naming the extra that installs it."""
    beside = Path(sys.executable).with_name(name)
    path = str(beside) if beside.is_file() else shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]' installs it)")
    return path


def test_workflow_is_valid_against_the_github_workflow_schema() -> None:
    """check-jsonschema ships the schema in its wheel: the check runs offline."""
    run = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_workflow_has_no_high_or_medium_audit_findings() -> None:
    """zizmor --offline: actions pinned by commit, least-privilege permissions, no credentials left behind."""
    run = subprocess.run([_tool("zizmor"), "--offline", "--format", "json", str(WORKFLOW)],
                         capture_output=True, text=True)
    assert run.returncode in (0, 10, 11, 12, 13, 14), run.stderr  # 1x: findings (read below); others: an error
    findings = json.loads(run.stdout or "[]")
    serious = [f for f in findings if f["determinations"]["severity"] in ("High", "Medium")]
    assert not serious, json.dumps(serious, indent=1)[:2000]


def test_every_action_is_pinned_by_commit() -> None:
    uses = re.findall(r"uses:\s*(\S+)", WORKFLOW.read_text())
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u) for u in uses), uses


def test_workflow_runs_the_readme_commands() -> None:
    """The forge builds and tests with the same make targets the README tells a reader to run."""
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(make (?:book|test))\b", readme, flags=re.M)
    assert {"make book", "make test"} <= set(commands)
    runs = re.findall(r"run:\s*(.+)", WORKFLOW.read_text())
    for command in ("make book", "make test"):
        assert any(r.strip().startswith(command) for r in runs), (command, runs)
