"""Real central services for the tests, started on free loopback ports in temporary folders."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Callable, Iterator
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


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mounts small disks of a given size (root only), to fill them; unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounts: list[Path] = []

    def mount(size: str) -> Path:
        path = tmp_path / f"disk-{len(mounts)}"
        path.mkdir()
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True
        )
        mounts.append(path)
        return path

    yield mount
    for path in mounts:
        subprocess.run(["umount", "-l", str(path)], check=False)
