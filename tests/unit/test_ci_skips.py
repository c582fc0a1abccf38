"""Under CI=true the suite says what it did not run: every kind of skip fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
SKIPPING = """
import pytest

@pytest.fixture
def needs_a_thing():
    pytest.skip("fixture: no thing here")

def test_skips_itself():
    pytest.skip("body: no thing here")

@pytest.mark.skipif(True, reason="mark: not root")
def test_marked():
    pass

def test_fixture(needs_a_thing):
    pass

@pytest.mark.xfail(reason="a known fault", strict=True)
def test_expected_to_fail():
    assert False

def test_runs():
    pass
"""
SKIPPING_MODULE = """
import pytest

pytest.importorskip("pantau_no_such_module")

def test_never_collected():
    pass
"""


def run(tmp_path: Path, ci: str | None, *files: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    pytest_ = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs"]
    return subprocess.run(
        [*pytest_, "-p", "tests.ci_skips", *files],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    (tmp_path / "test_skipping_module.py").write_text(SKIPPING_MODULE)
    return tmp_path


@pytest.mark.parametrize("ci", [None, "1"])  # only CI=true, as CI sets it
def test_elsewhere_a_skip_stays_a_skip(files: Path, ci: str | None) -> None:
    done = run(files, ci, "test_skipping.py", "test_skipping_module.py")
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1].startswith("1 passed, 4 skipped, 1 xfailed in ")


def test_under_ci_every_skip_fails(files: Path) -> None:
    done = run(files, "true", "test_skipping.py")
    assert done.returncode == 1, done.stdout
    assert done.stdout.splitlines()[-1].startswith("1 failed, 1 passed, 1 xfailed, 2 errors in ")
    reasons = [line for line in done.stdout.splitlines() if "skipped under CI=true" in line]
    assert [
        line.split(" - ", 1)[1] for line in reasons if line.startswith(("FAILED", "ERROR"))
    ] == [
        "skipped under CI=true, where every test must run: Skipped: body: no thing here",
        "skipped under CI=true, where every test must run: Skipped: mark: not root",
        "skipped under CI=true, where every test must run: Skipped: fixture: no thing here",
    ]


def test_under_ci_a_skipped_module_fails(files: Path) -> None:
    done = run(files, "true", "test_skipping_module.py")
    assert done.returncode == 2, done.stdout
    assert (
        "ERROR test_skipping_module.py - skipped under CI=true, where every test must run:"
        " Skipped: could not import 'pantau_no_such_module'" in done.stdout
    )
