"""Under CI=true the suite says what it did not run: every kind of skip fails the run."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]
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


def run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None, *files: str
) -> pytest.RunResult:
    """pytest on `files` with the plugin alone (not this suite's conftest), run in this process:
    the exit status and summary a `python -m pytest` child would give, without a second
    interpreter importing pytest and its plugins (seconds per run)."""
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    return pytester.runpytest_inprocess(
        *("-q", "-p", "no:cacheprovider", "-rfEs", "-p", "tests.ci_skips", *files),
        # the plugin is imported already (this suite loads it), so it is not rewritten again
        *("-W", "ignore::pytest.PytestAssertRewriteWarning"),
        # Hypothesis's plugin imports Hypothesis at the end of every run (a second each, as the
        # run's imports are undone after it); these files hold no Hypothesis test
        *("-p", "no:hypothesispytest"),
    )


@pytest.fixture
def files(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_skipping=SKIPPING, test_skipping_module=SKIPPING_MODULE)
    return pytester


@pytest.mark.parametrize("ci", [None, "1"])  # only CI=true, as CI sets it
def test_elsewhere_a_skip_stays_a_skip(
    files: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    done = run(files, monkeypatch, ci, "test_skipping.py", "test_skipping_module.py")
    assert done.ret == 0, done.stdout.str()
    assert done.outlines[-1].startswith("1 passed, 4 skipped, 1 xfailed in ")


def test_under_ci_every_skip_fails(files: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    done = run(files, monkeypatch, "true", "test_skipping.py")
    assert done.ret == 1, done.stdout.str()
    assert done.outlines[-1].startswith("1 failed, 1 passed, 1 xfailed, 2 errors in ")
    reasons = [line for line in done.outlines if "skipped under CI=true" in line]
    assert [
        line.split(" - ", 1)[1] for line in reasons if line.startswith(("FAILED", "ERROR"))
    ] == [
        "skipped under CI=true, where every test must run: Skipped: body: no thing here",
        "skipped under CI=true, where every test must run: Skipped: mark: not root",
        "skipped under CI=true, where every test must run: Skipped: fixture: no thing here",
    ]


def test_under_ci_a_skipped_module_fails(
    files: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = run(files, monkeypatch, "true", "test_skipping_module.py")
    assert done.ret == 2, done.stdout.str()
    assert (
        "ERROR test_skipping_module.py - skipped under CI=true, where every test must run:"
        " Skipped: could not import 'pantau_no_such_module'" in done.stdout.str()
    )
