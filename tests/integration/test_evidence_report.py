"""The report carries the month's checkpoint (root, tree size, signer, every day's too) and the
command that checks it, in its JSON and on its first page; without an archive it says so. A
report made that way verifies against the archive it names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pantau.collector.archive.checkpoint import CheckpointStore
from pantau.collector.lab import services
from pantau.shared.cli import main
from tests.evidence_fixtures import MONTH, NOW_MS, POINTS, build_month
from tests.integration.test_evidence_cli import fill_directly
from tests.pipeline import registry_file


def make_report(
    capsys: pytest.CaptureFixture[str], out: Path, fmt: str, store: list[str], *extra: str
) -> None:
    code = main(["report", "--month", MONTH, "--format", fmt, "--out", str(out), *store, *extra])
    capsys.readouterr()
    assert code == 0


def test_the_report_names_its_checkpoint_and_verifies(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    influxd: services.Service,
    database: str,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW_MS // 1000))
    registry = registry_file(tmp_path / "registry.yaml", list(POINTS))
    m = build_month(tmp_path)
    fill_directly(influxd.url, database, registry, m)
    store = ["--registry", str(registry), "--influx-url", influxd.url, "--database", database]
    out = tmp_path / "report.json"
    make_report(capsys, out, "json", store, "--archive", str(m.archive), "--lang", "en")
    data = json.loads(out.read_text())
    heads = [json.loads(p.read_text()) for p in sorted(m.archive.glob("2026-09/*.checkpoint.json"))]
    last = heads[-1]
    command = f"pantau evidence verify --month {MONTH} --report {out}"
    signer = CheckpointStore(m.archive).latest()
    assert signer is not None and signer.signer == last["signer"]
    assert data["archive"] == {
        "configured": True,
        "first_day": "2026-08-31",
        "last_day": "2026-09-30",
        "checkpoint": {
            "day": "2026-09-10",
            "tree_size": 540,
            "root": last["root"],
            "signer": last["signer"],
        },
        "days": [
            {k: h[k] for k in ("day", "tree_size", "root", "signer")} for h in heads
        ],
        "missing_days": [],
        "verify": command,
        "notice": f"Evidence archive checkpoint of 2026-09-10: 540 messages, root {last['root']},"
        f" signed by key {last['signer']}. Check: {command}",
    }  # fmt: skip

    html = tmp_path / "report.html"
    make_report(capsys, html, "html", store, "--archive", str(m.archive), "--lang", "en")
    page = html.read_text()
    assert f"root {last['root']}, signed by key {last['signer']}. Check: pantau evidence" in page

    code = main(
        ["evidence", "verify", "--month", MONTH, "--report", str(out), "--archive", str(m.archive),
         "--keys", str(m.keys_file), *store]
    )  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert (code, lines[-1]) == (0, "match")


def test_without_an_archive_the_report_says_so(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    influxd: services.Service,
    database: str,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW_MS // 1000))
    registry = registry_file(tmp_path / "registry.yaml", list(POINTS))
    fill_directly(influxd.url, database, registry, build_month(tmp_path))
    store = ["--registry", str(registry), "--influx-url", influxd.url, "--database", database]
    out = tmp_path / "report.json"
    make_report(capsys, out, "json", store)
    assert json.loads(out.read_text())["archive"] == {
        "configured": False,
        "notice": "TANPA ARSIP BUKTI: kolektor tidak menyimpan arsip pesan bertanda tangan, jadi"
        " angka ini tidak dapat diperiksa pihak ketiga",
    }
