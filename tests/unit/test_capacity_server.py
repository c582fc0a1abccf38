"""The test server's own bookkeeping: its test slots (the cap on tests at once) and the load
header every answer carries."""

from __future__ import annotations

from pathlib import Path

from pantau.shared.speedtest import contract
from pantau.shared.speedtest.server import CpuMeter, Slots


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_test_holds_one_slot_for_all_its_streams_and_a_grace_after() -> None:
    clock = Clock()
    slots = Slots(cap=1, grace_s=3.0, clock=clock)
    assert slots.take("a") and slots.take("a") and slots.take("a")  # three streams, one test
    assert slots.active() == 1
    assert not slots.take("b")  # the cap: a second test is refused
    for _ in range(3):
        slots.give("a")
    clock.now += 2.9
    assert slots.active() == 1 and not slots.take("b")  # a's next direction may still come
    assert slots.take("a")  # and finds its slot
    slots.give("a")
    clock.now += 3.0
    assert slots.active() == 0
    assert slots.take("b") and slots.active() == 1


def test_tests_run_elsewhere_count_against_the_cap() -> None:
    running = [1]
    slots = Slots(cap=2, others=lambda: running[0], clock=Clock())
    assert slots.take("a") and slots.active() == 2
    assert not slots.take("b")
    running[0] = 0
    assert slots.take("b")


def test_the_load_header_reads_back_and_nonsense_is_no_load() -> None:
    load = contract.ServerLoad(active=3, cap=8, cpu_pct=41.26)
    assert load.header() == "active=3; cap=8; cpu=41.3"
    assert contract.parse_load(load.header()) == contract.ServerLoad(3, 8, 41.3)
    assert load.as_dict() == {"active": 3, "cap": 8, "cpu_pct": 41.3}
    assert contract.load_from_json(load.as_dict()) == contract.ServerLoad(3, 8, 41.3)
    assert contract.parse_load(None) is None
    assert contract.parse_load("active=x; cap=8; cpu=1") is None
    assert contract.parse_load("busy") is None
    assert contract.load_from_json({"active": 1}) is None
    assert contract.load_from_json("3") is None


def test_cpu_share_from_two_readings_of_proc_stat(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal
    stat.write_text("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3\n")
    meter = CpuMeter(str(stat))
    stat.write_text("cpu  160 0 120 760 140 0 0 20 0 0\n")  # +100 busy (steal too) of +200
    meter.tick()
    assert meter.pct == 50.0
    meter.tick()  # nothing moved since: the share stays what it was
    assert meter.pct == 50.0
    absent = CpuMeter(str(tmp_path / "absent"))
    absent.tick()
    assert absent.pct == 0.0
