"""Two workers share each point's messages (`$share` hands them out in turn), so neither has
written all of a point's rows. A stored row must still never be rewritten, whichever worker a
copy of it reaches: here every stored sample of a point is sent again with other contents, twice
(so each worker gets one copy), and every copy is refused as a rewrite, each recorded in a row
of its own (the two workers' `integrity` rows are told apart by `writer`). Real mosquitto,
influxd and collector with two workers."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pantau.collector.lab.services import Service
from pantau.shared import topics
from tests.broker_probe import connect, sample, telemetry
from tests.integration.test_faults import POINTS, Rig
from tests.integration.test_workers import all_subscribed
from tests.pipeline import count_rows, wait_for

POINT = POINTS[0]
SAMPLES = 12


def test_no_worker_rewrites_a_row_the_other_stored(
    tmp_path: Path, mosquitto: Service, influxd: Service, database: str
) -> None:
    rig = Rig(tmp_path, mosquitto, influxd, database)
    t0 = int(time.time() * 1000) - 3_600_000
    honest = [sample(seq, t0 + seq * 10_000, 1e6 + seq) for seq in range(SAMPLES)]
    forged = [s.model_copy(update={"rx_bps": 48e6, "wan_up": not s.wan_up}) for s in honest]
    topic = topics.telemetry_topic(POINT)
    session = connect(mosquitto.port, None, client_id="forger")
    try:
        collector = rig.collector(workers=2)
        wait_for(lambda: all_subscribed(collector, 2), 30, "both workers subscribed")
        for one in honest:  # one message each: the broker hands them out in turn
            assert session.publish(topic, telemetry(POINT, [one])) == "Success"
        wait_for(lambda: count_rows(rig.db, "telemetry") == SAMPLES, 30, "the honest samples")
        for one in forged:
            for _ in range(2):  # one copy to each worker
                assert session.publish(topic, telemetry(POINT, [one])) == "Success"
        wait_for(lambda: len(refusals(rig)) == 2 * SAMPLES, 30, "every forged copy recorded")
        assert collector.stop() == 0
    finally:
        session.close()
        rig.stop_all()
    rows = rig.db.query('SELECT "seq", "rx_bps", "wan_up" FROM "telemetry" ORDER BY time')
    assert [(r["seq"], r["rx_bps"], r["wan_up"]) for r in rows] == [
        (s.seq, s.rx_bps, s.wan_up) for s in honest
    ]
    assert sorted((r["reason"], r["ts_ms"]) for r in refusals(rig)) == sorted(
        ("rewrite", s.ts_ms) for s in honest for _ in range(2)
    )
    # each worker's rows are its own series: refusals of one millisecond never overwrite
    assert {r["writer"] for r in refusals(rig)} == {f"collector-{database}-{i}" for i in (1, 2)}
    stats = json.loads(collector.log().splitlines()[-1].split("stats ", 1)[1])
    assert stats["rejected"] == {"rewrite": 2 * SAMPLES} and stats["lines_identical"] == 0


def refusals(rig: Rig) -> list[dict[str, object]]:
    return rig.db.query('SELECT "ts_ms", "reason", "writer" FROM "integrity"')
