"""The supervisor's decisions, without processes: how many workers, who each one is, when a dead
one starts again, where leftover buffers go, and how their figures add up."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from pantau.collector.buffer import DiskBuffer
from pantau.collector.config import CollectorConfig
from pantau.collector.metrics import Health, merge
from pantau.collector.workers import Restarts, adopt_leftovers, plan, worker_config


def config(tmp_path: Path, **extra: Any) -> CollectorConfig:
    data: dict[str, Any] = {"registry": "registry.yaml", "state_dir": str(tmp_path / "state")}
    for key, value in extra.items():
        data[key] = value
    return CollectorConfig.model_validate(data)


# -- restarts ----------------------------------------------------------------------------------


def test_a_worker_that_keeps_dying_waits_longer_each_time_up_to_the_ceiling() -> None:
    restarts = Restarts(first_s=1.0, max_s=8.0, stable_s=60.0)
    assert [restarts.delay(ran_s=2.0) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_worker_that_ran_a_while_before_dying_starts_again_at_once() -> None:
    restarts = Restarts(first_s=1.0, max_s=60.0, stable_s=60.0)
    assert [restarts.delay(ran_s=1.0) for _ in range(3)] == [1.0, 2.0, 4.0]
    assert restarts.delay(ran_s=60.0) == 1.0  # it had been stable: the count starts over
    assert restarts.delay(ran_s=0.5) == 2.0


# -- how many, and who ---------------------------------------------------------------------------


def test_default_is_one_worker_per_core_on_a_default_share_group(tmp_path: Path) -> None:
    chosen = plan(config(tmp_path), cores=4)
    assert (chosen.count, chosen.share_group) == (4, "pantau")
    assert [level for level, _ in chosen.notes] == [logging.INFO]
    assert "$share/pantau/" in chosen.notes[0][1]


def test_one_worker_is_the_collector_as_before(tmp_path: Path) -> None:
    base = config(tmp_path, workers=1, mqtt={"client_id": "c", "share_group": None})
    chosen = plan(base, cores=2)
    assert (chosen.count, chosen.share_group, chosen.notes) == (1, None, ())
    one = worker_config(base, 1, chosen)
    assert (one.mqtt.client_id, one.mqtt.share_group, one.state_dir) == ("c", None, base.state_dir)


def test_each_worker_has_its_own_session_folder_and_archive(tmp_path: Path) -> None:
    base = config(
        tmp_path,
        workers=2,
        mqtt={"client_id": "pantau-collector", "share_group": "city"},
        evidence={"archive_dir": str(tmp_path / "archive")},
    )
    chosen = plan(base, cores=8)
    assert (chosen.count, chosen.share_group, chosen.notes) == (2, "city", ())
    second = worker_config(base, 2, chosen)
    assert second.mqtt.client_id == "pantau-collector-2"
    assert second.mqtt.share_group == "city"
    assert second.state_dir == tmp_path / "state" / "worker-2"
    assert second.evidence.archive_dir == tmp_path / "archive" / "worker-2"


def test_worker_in_the_credentials_gives_each_worker_its_identity(tmp_path: Path) -> None:
    base = config(
        tmp_path,
        mqtt={
            "username": "pantau-collector-{worker}",
            "password_file": "/etc/pantau/pantau-collector-{worker}/password",
            "tls": {
                "ca_file": "/etc/pantau/ca.pem",
                "cert_file": "/etc/pantau/pantau-collector-{worker}/cert.pem",
                "key_file": "/etc/pantau/pantau-collector-{worker}/key.pem",
            },
        },
    )
    chosen = plan(base, cores=2)
    assert chosen.count == 2
    first = worker_config(base, 1, chosen).mqtt
    assert first.username == "pantau-collector-1"
    assert first.password_file == "/etc/pantau/pantau-collector-1/password"
    assert first.tls is not None
    assert first.tls.cert_file == "/etc/pantau/pantau-collector-1/cert.pem"
    assert first.tls.key_file == "/etc/pantau/pantau-collector-1/key.pem"
    assert first.tls.ca_file == "/etc/pantau/ca.pem"


def test_one_identity_for_all_keeps_the_default_at_one_worker_and_says_why(
    tmp_path: Path,
) -> None:
    shared = {"username": "pantau-collector", "password_file": "/etc/pantau/password"}
    chosen = plan(config(tmp_path, mqtt=shared), cores=2)
    assert chosen.count == 1
    assert chosen.notes[0][0] == logging.INFO and "{worker}" in chosen.notes[0][1]
    asked = plan(config(tmp_path, mqtt=shared, workers=3), cores=2)
    assert asked.count == 3  # asked for: done, with a warning naming the risk
    assert asked.notes[0][0] == logging.WARNING and "only one of them" in asked.notes[0][1]


# -- what an earlier run left ----------------------------------------------------------------------


def buffered(path: Path, lines: int) -> None:
    buffer = DiskBuffer(path)
    buffer.append([f"telemetry,point=cit-01 seq={n}i {n}" for n in range(lines)])
    buffer.close()


def depth(path: Path) -> tuple[int, int]:
    buffer = DiskBuffer(path)
    try:
        return buffer.depth()
    finally:
        buffer.close()


def test_a_single_process_buffer_goes_to_the_first_worker(tmp_path: Path) -> None:
    state = tmp_path / "state"
    buffered(state / "buffer.sqlite", 3)
    adopt_leftovers(state, 2)
    assert not (state / "buffer.sqlite").exists()
    assert depth(state / "worker-1" / "buffer.sqlite") == (1, 3)


def test_buffers_of_more_workers_go_to_the_one_left(tmp_path: Path) -> None:
    state = tmp_path / "state"
    buffered(state / "worker-2" / "buffer.sqlite", 5)
    DiskBuffer(state / "buffer.sqlite").close()  # its own, empty: it makes way
    adopt_leftovers(state, 1)
    assert depth(state / "buffer.sqlite") == (1, 5)
    assert not (state / "worker-2" / "buffer.sqlite").exists()


def test_a_buffer_no_worker_can_take_stays_and_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    buffered(state / "buffer.sqlite", 2)
    buffered(state / "worker-3" / "buffer.sqlite", 4)
    with caplog.at_level(logging.WARNING):
        adopt_leftovers(state, 1)
    assert depth(state / "buffer.sqlite") == (1, 2)
    assert depth(state / "worker-3" / "buffer.sqlite") == (1, 4)
    assert "worker-3/buffer.sqlite holds 4 line(s) for InfluxDB" in caplog.text


# -- one /metrics for all ------------------------------------------------------------------------


def health(received: int, **extra: Any) -> Health:
    data: dict[str, Any] = {
        "counters": {"received": received, "accepted": received},
        "rejected": {"not_json": 1},
        "write_buckets": [1] * 12,
        "write_count": 1,
        "write_seconds": 0.5,
        "buffer_batches": 0,
        "buffer_lines": 0,
        "backlog_lines": 10,
        "influx_up": True,
        "mqtt_connected": True,
        "last_seen_ms": {"cit-01": 1_000},
        "registry_points": 2,
    }
    return Health(**(data | extra))


def test_workers_add_up_and_a_dead_ones_counts_stay() -> None:
    one = health(
        5,
        rollups={
            "backlog": 1,
            "lag_s": 3.0,
            "rows_written": 2,
            "rows_read": 4,
            "reads": 1,
            "largest_read": 4,
            "errors": 0,
        },
    )
    two = health(7, influx_up=False, last_seen_ms={"cit-01": 2_000, "cit-02": 500})
    retired = health(100, backlog_lines=999)
    total = merge([one, two], registry_points=2, retired=retired)
    assert total.counters["received"] == 112
    assert total.rejected == {"not_json": 3}
    assert total.write_count == 3 and total.write_buckets == [3] * 12
    assert total.backlog_lines == 20  # a dead worker holds nothing in memory
    assert (total.influx_up, total.mqtt_connected) == (False, True)
    assert total.last_seen_ms == {"cit-01": 2_000, "cit-02": 500}
    assert total.rollups is not None
    assert (total.rollups["backlog"], total.rollups["lag_s"], total.rollups["rows_read"]) == (
        1,
        3.0,
        4,
    )


def test_seq_gaps_are_counted_over_every_workers_part_of_a_stream() -> None:
    """The broker deals one point's messages out to both workers: neither alone sees the
    stream whole, together they do."""
    evens = health(5, seq_spans={"cit-01": (0, 8, 5)})  # 0 2 4 6 8
    odds = health(5, seq_spans={"cit-01": (1, 9, 5)})  # 1 3 5 7 9
    whole = merge([evens, odds], registry_points=2)
    assert whole.seq_spans == {"cit-01": (0, 9, 10)}
    assert (whole.counters["seq_gaps"], whole.counters["seq_duplicates"]) == (0, 0)
    later = health(1, seq_spans={"cit-01": (14, 14, 1)})  # 10 to 13 never came
    gap = merge([evens, odds, later], registry_points=2)
    assert (gap.counters["seq_gaps"], gap.counters["seq_duplicates"]) == (4, 0)
    again = health(1, seq_spans={"cit-01": (9, 9, 1)})  # 9 redelivered after a kill
    repeat = merge([evens, odds], registry_points=2, retired=again)
    assert (repeat.counters["seq_gaps"], repeat.counters["seq_duplicates"]) == (0, 1)
