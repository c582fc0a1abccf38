"""The console script's own messages: a missing extra says how to install it from what
exists (the wheel `make dist` builds), never from a package index Pantau is not on."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pantau.shared import __version__
from pantau.shared.topics import POINT_ID_RULE, point_id_problem

CSV = Path(__file__).parent.parent.parent / "shared" / "data" / "cilegon_kelurahan.csv"


def _without(module: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from pantau.shared.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_missing_agent_package_names_the_wheel_and_its_extra() -> None:
    result = _without("paho", ["agent", "--help"])
    assert result.returncode == 2
    assert result.stderr == (
        "pantau agent: needs the Python package 'paho', which the 'agent' extra brings:"
        f" pip install 'pantau-{__version__}-py3-none-any.whl[agent]' (the wheel `make dist`"
        " builds; README, Running an agent), or in the project: pip install -e '.[agent]'\n"
    )


def test_a_missing_collector_package_names_the_collector_extra() -> None:
    """The message is the same line for every command; the extra is the command's."""
    result = _without("rich", ["demo", "--help"])
    assert result.returncode == 2
    assert "the 'collector' extra brings" in result.stderr
    assert f"pip install 'pantau-{__version__}-py3-none-any.whl[collector]'" in result.stderr
    assert "pip install 'pantau[" not in result.stderr


# -- what the commands say -------------------------------------------------------------------
def pantau(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pantau.shared.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening: connecting is refused
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once for the module (a `pantau` child, about a second): the tests only read it."""
    path = tmp_path_factory.mktemp("registry") / "registry.yaml"
    made = pantau(
        "registry", "generate", "--csv", str(CSV), "--provider", "Awinet", "--out", str(path)
    )
    assert made.returncode == 0, made.stderr
    return path


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (
            "Citangkil_03",
            "'Citangkil_03' is not a point id: it has 'C', '_'; a point id is 1 to 64 lowercase"
            " letters a-z, digits 0-9 and '-', beginning and ending with a letter or digit, e.g."
            " 'citangkil-03'; did you mean 'citangkil-03'?",
        ),
        (
            "-cit",
            "'-cit' is not a point id: it begins or ends with '-'; "
            + POINT_ID_RULE
            + "; did you mean 'cit'?",
        ),
        ("", "'' is not a point id: it is empty; " + POINT_ID_RULE),
        ("a" * 65, f"{'a' * 65!r} is not a point id: it has 65 characters; " + POINT_ID_RULE),
        ("citangkil-03", None),
    ],
)
def test_a_point_id_is_explained_in_words(value: str, said: str | None) -> None:
    assert point_id_problem(value) == said


def test_the_registry_explains_a_bad_point_id_without_a_regular_expression(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(
        "points:\n  - {id: Citangkil 03, kelurahan: Citangkil, kecamatan: Citangkil,"
        " provider: Awinet}\n"
    )
    result = pantau("registry", "check", str(path))
    assert result.returncode == 2
    assert result.stderr == (
        f"pantau registry: {path}: points[0] (Citangkil 03): field 'id': 'Citangkil 03' is not"
        " a point id: it has ' ', 'C'; a point id is 1 to 64 lowercase letters a-z, digits 0-9"
        " and '-', beginning and ending with a letter or digit, e.g. 'citangkil-03'; did you"
        " mean 'citangkil-03'?\n"
    )
    assert "[a-z" not in result.stderr


def test_report_offers_the_kelurahan_and_point_meant(registry: Path) -> None:
    store = ["--registry", str(registry), "--influx-url", f"http://127.0.0.1:{closed_port()}"]
    result = pantau("report", "--month", "2026-10", *store, "--kelurahan", "Cibebr")
    assert result.returncode == 2
    assert result.stderr == (
        "pantau report: --kelurahan 'Cibebr': not in the registry"
        " (did you mean 'Cibeber' or 'Cikerai'?)\n"
    )
    result = pantau("report", "--month", "2026-10", *store, "--point", "cibeber-1")
    assert result.stderr == (
        "pantau report: --point 'cibeber-1': not in the registry"
        " (did you mean 'cibeber-10' or 'cibeber-01' or 'cibeber-09'?)\n"
    )
    result = pantau("report", "--month", "2026-10", *store, "--kelurahan", "Atlantis")
    assert result.stderr == "pantau report: --kelurahan 'Atlantis': not in the registry\n"


def test_rollup_offers_the_kelurahan_and_point_meant(registry: Path) -> None:
    store = ["--registry", str(registry), "--influx-url", f"http://127.0.0.1:{closed_port()}"]
    result = pantau("rollup", "rebuild", "--month", "2026-10", *store, "--kelurahan", "ciwaduk")
    assert "not in the registry" not in result.stderr  # another case is no typo
    result = pantau("rollup", "rebuild", "--month", "2026-10", *store, "--kelurahan", "Ciwaduq")
    assert result.returncode == 2
    assert result.stderr == (
        "pantau rollup: --kelurahan 'Ciwaduq': not in the registry"
        " (did you mean 'Ciwaduk' or 'Ciwedus'?)\n"
    )
    result = pantau("rollup", "rebuild", "--month", "2026-10", *store, "--point", "ciwaduk01")
    assert result.stderr == (
        "pantau rollup: --point 'ciwaduk01': not in the registry"
        " (did you mean 'ciwaduk-01' or 'ciwaduk-10' or 'ciwaduk-09'?)\n"
    )


def test_status_offers_the_kelurahan_meant(registry: Path, tmp_path: Path) -> None:
    config = tmp_path / "collector.yaml"
    config.write_text(
        f"registry: {registry}\nmqtt: {{host: 127.0.0.1, port: {closed_port()}}}\n"
        f"influx: {{url: 'http://127.0.0.1:{closed_port()}'}}\n"
    )
    result = pantau("status", "--config", str(config), "--kelurahan", "Kotabumy")
    assert result.returncode == 2
    assert result.stderr == (
        f"pantau status: {registry}: no kelurahan 'Kotabumy' in the registry"
        " (did you mean 'Kotabumi'?)\n"
    )


def test_an_unreachable_influxdb_is_named_with_its_url_and_the_cause(registry: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = pantau(
        "report", "--month", "2026-10", "--registry", str(registry), "--influx-url", url
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"pantau report: InfluxDB {url} unreachable: connection refused (NewConnectionError)\n"
    )
