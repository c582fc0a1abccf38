"""A point whose registry entry was deleted mid-month, while its data stays stored, is named by
the report, which is then not final: through a real influxd, the real `pantau rollup rebuild`
and the real `pantau report`.

October 2026, samples every 600 s, WAN up, a peak test (20:00 WIB, 50 Mbit/s) each day with
data. `stays` (Awinet) and `biz` (Biznet) sample all month; `gone` (Awinet) samples 1-15 Oct
(2 160 samples, 360 hours) and its entry is then deleted; `left-sep` (Awinet) sampled only in
September and is in no registry: not October's concern. The rollups are rebuilt with the
registry that still lists `gone`, as they were before the deletion.

Without `gone`'s entry the report names it (first line, stderr, JSON, the Awinet verdict), is
not final and `--strict` exits 3, while every figure of `stays` and `biz` is what it was. A
`--provider Biznet` report is not concerned (`gone`'s rows are tagged Awinet). Put back with
`removed: '2026-10-16'`, `gone` is billed 15 of 31 days: 500 000 × 15 / 31 = 241 935.48 →
Rp241.935, and the report is final.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pantau.collector.lab.services import Service
from pantau.collector.sla.periods import DAY_MS, month
from pantau.shared.registry import load_registry
from tests.integration.test_report_money import capacity, day, registry_yaml, run, samples, store
from tests.pipeline import influx

OCT = month("2026-10")
SEP = month("2026-09")
DATABASE = "report_unregistered"
GONE_LINE = (
    "NOT IN THE REGISTRY: 1 point(s) with data stored in 2026-10 but no registry entry, left"
    " out of this report: gone (2026-10-01–2026-10-15, 2,160 samples); put each back in the"
    " registry with `removed:` set to its first day out of service, then make the report again"
)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, influxd: Service) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("unregistered")
    listed = registry_yaml(
        tmp / "listed.yaml", {"stays": {}, "biz": {"provider": "Biznet"}, "gone": {}}
    )
    september = registry_yaml(tmp / "september.yaml", {"left-sep": {}})
    reg, sep_reg = load_registry(listed), load_registry(september)
    db = influx(influxd.url, DATABASE)
    db.ensure_database()
    for point, days in (("stays", 31), ("biz", 31), ("gone", 15)):
        store(db, reg, point, samples(OCT.start_ms, days))
        db.write([ln for d in range(1, days + 1) for ln in capacity(reg, point, day(d, 20), 50.0)])
    store(db, sep_reg, "left-sep", samples(SEP.start_ms, 30))
    where = ["--influx-url", influxd.url, "--database", DATABASE]
    for registry, label in ((listed, "2026-10"), (september, "2026-09")):
        done = run("rollup", "rebuild", "--month", label, "--registry", str(registry), *where)
        assert done.returncode == 0, done.stderr
    registries = {
        "listed": listed,
        "deleted": registry_yaml(
            tmp / "deleted.yaml", {"stays": {}, "biz": {"provider": "Biznet"}}
        ),
        "removed": registry_yaml(
            tmp / "removed.yaml",
            {"stays": {}, "biz": {"provider": "Biznet"}, "gone": {"removed": "2026-10-16"}},
        ),
    }
    registries["september"] = september
    return {"where": where} | {name: str(path) for name, path in registries.items()}


def report(stored: dict[str, Any], registry: str, *flags: str) -> Any:
    return run(
        "report",
        "--month",
        "2026-10",
        "--registry",
        stored[registry],
        *stored["where"],
        "--lang",
        "en",
        *flags,
    )


def as_json(stored: dict[str, Any], registry: str, *flags: str) -> tuple[Any, dict[str, Any]]:
    done = report(stored, registry, "--format", "json", *flags)
    return done, json.loads(done.stdout)


def test_a_deleted_point_with_stored_data_is_named_and_the_report_is_not_final(
    stored: dict[str, Any],
) -> None:
    done, data = as_json(stored, "deleted")
    assert done.returncode == 0, done.stderr
    assert (data["final"], data["provisional"]) == (False, False)
    assert data["notices"] == [GONE_LINE]
    assert done.stderr == f"pantau report: {GONE_LINE}\n"
    assert data["evidence"]["unregistered_points"] == [
        {
            "id": "gone",
            "providers": ["Awinet"],
            "kelurahan": ["Gone"],
            "kecamatan": ["Cilegon"],
            "hours": 360,
            "samples": 2_160,
            "first": "2026-10-01T00:00:00+07:00",
            "last": "2026-10-15T23:50:00+07:00",
        }
    ]
    awinet = next(v for v in data["verdicts"] if v["provider"] == "Awinet")
    assert awinet["line"] == (
        "Awinet: pay Rp500,000 of Rp500,000 (1 point(s) with stored data not in the registry,"
        " left out)."
    )
    assert awinet["unregistered_points_n"] == 1
    assert [p["id"] for p in data["points"]] == ["biz", "stays"]


def test_the_other_points_figures_are_exactly_what_they_were(stored: dict[str, Any]) -> None:
    _, listed = as_json(stored, "listed")
    _, deleted = as_json(stored, "deleted")
    before = {p["id"]: p for p in listed["points"]}
    after = {p["id"]: p for p in deleted["points"]}
    assert after == {pid: before[pid] for pid in ("biz", "stays")}
    stays = after["stays"]
    money = ("fee_idr", "deduction_idr", "net_payable_idr", "to_be_decided_idr")
    assert tuple(stays[k] for k in money) == (500_000, 0, 500_000, 0)
    # listed, gone's 15 days are low coverage: its whole fee to be decided, and said
    assert before["gone"]["to_be_decided_reason"] == "low_coverage"
    assert listed["evidence"]["unregistered_points"] == []


def test_strict_exits_3_and_every_rendering_starts_with_the_notice(
    stored: dict[str, Any], tmp_path: Path
) -> None:
    done = report(stored, "deleted", "--format", "csv", "--strict")
    assert done.returncode == 3
    assert done.stdout.splitlines()[0] == f"# {GONE_LINE}"
    assert done.stderr == (
        f"pantau report: {GONE_LINE}\n"
        "pantau report: --strict: the 2026-10 report is not final (exit 3)\n"
    )
    table = report(stored, "deleted", "--format", "table").stdout
    assert " ".join(table.split()).startswith(GONE_LINE)
    html = report(stored, "deleted", "--format", "html").stdout
    assert f'<div class="notice"><p>{GONE_LINE}</p></div>' in html
    done = run(
        "report",
        "--month",
        "2026-10",
        "--registry",
        stored["deleted"],
        *stored["where"],
        "--format",
        "json",
    )
    assert json.loads(done.stdout)["notices"][0].startswith(
        "TIDAK ADA DI REGISTRI: 1 titik dengan data tersimpan di 2026-10 tanpa entri di"
        " registri, tidak termasuk laporan ini: gone (2026-10-01–2026-10-15, 2.160 sampel);"
    )


def test_a_report_of_another_provider_is_not_concerned(stored: dict[str, Any]) -> None:
    done, data = as_json(stored, "deleted", "--provider", "Biznet", "--strict")
    assert (done.returncode, done.stderr) == (0, "")
    assert (data["final"], data["notices"]) == (True, [])
    done, data = as_json(stored, "deleted", "--provider", "awinet", "--strict")
    assert done.returncode == 3
    assert data["notices"] == [GONE_LINE]


def test_put_back_with_its_removal_day_it_is_billed_and_the_report_is_final(
    stored: dict[str, Any],
) -> None:
    done, data = as_json(stored, "removed", "--strict")
    assert (done.returncode, done.stderr) == (0, "")
    assert (data["final"], data["notices"]) == (True, [])
    gone = next(p for p in data["points"] if p["id"] == "gone")
    assert (gone["fee_idr"], gone["net_payable_idr"], gone["minutes_active"]) == (
        241_935,
        241_935,
        15 * DAY_MS // 60_000,
    )


def test_a_month_without_data_for_the_registry_says_whose_data_is_stored(
    stored: dict[str, Any],
) -> None:
    """The September registry (left-sep only) for October: no report, and the line says which
    points the store has that the registry lacks (the wrong registry, most likely)."""
    done = report(stored, "september", "--format", "json")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "pantau report: no data for 2026-10: no rollup and no raw telemetry for the 1 point(s)"
        " in service; check the collector, --influx-url and --database; data is stored for 3"
        " point(s) not in the registry: biz, gone, stays\n"
    )
