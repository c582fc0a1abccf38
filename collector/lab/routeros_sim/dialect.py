"""RouterOS dialects the simulator speaks, loaded from the data files beside it.

Each data file holds what a real router of that release answers (field names, formats,
packages), taken from the captured replies in tests/testdata/routeros where there is one
(tests/integration/test_routeros_captures.py holds them equal); rows.json holds the row templates shared by all releases (registration tables,
hotspot sessions, DHCP leases).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

DIALECTS = {"6.49": "ros6.49.json", "7.14": "ros7.14.json", "7.18": "ros7.18.json"}


@dataclass(frozen=True)
class Dialect:
    name: str
    version: str
    empty_reply: bool  # 7.18+: a reply with no data is `!empty` then `!done`
    ping_time: str  # "ms" (ROS 6) or "ms_us" (ROS 7)
    resource: dict[str, str]  # the /system/resource row, uptime filled in live
    identity: str
    packages: tuple[dict[str, str], ...]
    wireless_package: str
    package_paths: dict[str, list[str]]
    health_style: str  # "row": one row of keys (ROS 6); "rows": a row per sensor (ROS 7)
    health_sensors: dict[str, Any]
    interfaces: tuple[dict[str, str], ...]
    ping: dict[str, str]

    @property
    def major(self) -> int:
        return int(self.name.split(".")[0])


def _read(name: str) -> dict[str, Any]:
    text = (
        resources.files("pantau.collector.lab.routeros_sim")
        .joinpath("data", name)
        .read_text("utf-8")
    )
    return json.loads(text)


@cache
def load_dialect(name: str) -> Dialect:
    if name not in DIALECTS:
        raise ValueError(f"unknown dialect {name!r}; choose one of {', '.join(DIALECTS)}")
    raw = _read(DIALECTS[name])
    return Dialect(
        name=raw["dialect"],
        version=raw["version"],
        empty_reply=raw["empty_reply"],
        ping_time=raw["ping_time"],
        resource=raw["resource"],
        identity=raw["identity"],
        packages=tuple(raw["packages"]),
        wireless_package=raw["wireless_package"],
        package_paths=raw["package_paths"],
        health_style=raw["health"]["style"],
        health_sensors=raw["health"]["sensors"],
        interfaces=tuple(raw["interfaces"]),
        ping=raw["ping"],
    )


@cache
def row_templates() -> dict[str, Any]:
    return _read("rows.json")
