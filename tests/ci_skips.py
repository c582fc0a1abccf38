"""Under CI=true a skipped test is a failure: the CI machine is root and has every package, so
a skip there means a check silently did not run. Elsewhere a skip stays a skip, with its reason.

Loaded by tests/conftest.py; a pytest plugin of its own so that it can be tested on its own.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest


def strict() -> bool:
    return os.environ.get("CI") == "true"


def _fail(report: pytest.TestReport | pytest.CollectReport) -> None:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where every test must run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[Any]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and strict() and not hasattr(report, "wasxfail"):
        _fail(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[Any]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if report.skipped and strict():
        _fail(report)
