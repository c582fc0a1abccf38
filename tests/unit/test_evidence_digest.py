"""The report's checkpoint digest over a collector's worker archives: every archive's days, named
by archive, the latest day's last one as the month's checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from pantau.collector.archive.digest import month_digest
from pantau.collector.sla.periods import month
from tests.evidence_fixtures import MONTH, POINTS, Agent, build_split, messages


def test_the_digest_covers_every_workers_archive(tmp_path: Path) -> None:
    agents = {p: Agent(p) for p in POINTS}
    m = build_split(tmp_path, messages(agents), agents)
    digest = month_digest(m.archive, month(MONTH))
    stored = {
        (home.name, json.loads(p.read_text())["day"]): json.loads(p.read_text())
        for home in sorted(m.archive.glob("worker-*"))
        for p in home.glob("*/*.checkpoint.json")
    }
    assert {(h.archive, h.day) for h in digest.days} == set(stored)
    assert all(stored[(h.archive, h.day)]["root"] == h.root for h in digest.days)
    assert [h.archive for h in digest.days[-2:]] == ["worker-1", "worker-2"]
    assert digest.last == digest.days[-1] and digest.missing_days == ()
    assert digest.as_dict()["checkpoint"]["archive"] == "worker-2"  # type: ignore[index]
