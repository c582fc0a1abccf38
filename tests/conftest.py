"""Real central services for the tests, started on free loopback ports in temporary folders."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from pantau.collector.lab import services
from tests.ci_skips import pytest_make_collect_report, pytest_runtest_makereport

__all__ = ["pytest_make_collect_report", "pytest_runtest_makereport"]  # CI=true: a skip fails

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Service]:
    """One influxd for the session; each test takes its own database (see `database`)."""
    service = services.influxd(tmp_path_factory.mktemp("influxd")).start()
    yield service
    service.stop()


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    return (
        f"t{next(_databases)}_{request.node.name[:40]}".replace("[", "_")
        .replace("]", "_")
        .replace("-", "_")
    )


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[services.Service]:
    service = services.mosquitto(tmp_path / "mosquitto").start()
    yield service
    service.stop()
