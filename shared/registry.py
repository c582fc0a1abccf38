"""The site registry: the source of truth for which points exist and where they belong.

Kelurahan, kecamatan and provider come from here, never from an agent: an agent only says which
point it is, and the collector decides what that point is.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field, model_validator

from pantau.shared.config import Section, load_config
from pantau.shared.errors import ConfigError
from pantau.shared.wire import PointId


class MaintenanceWindow(Section):
    start: dt.datetime = Field(description="Start, with timezone (e.g. 2026-10-05T01:00:00+07:00)")
    end: dt.datetime
    reason: str = ""


class Point(Section):
    id: PointId
    kelurahan: str = Field(min_length=1)
    kecamatan: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    kode_wilayah: str | None = Field(default=None, description="Kode kelurahan (Kemendagri)")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    installed: dt.date | None = None
    removed: dt.date | None = None
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)

    def tags(self) -> dict[str, str]:
        """The InfluxDB tags every row of this point carries."""
        return {
            "point": self.id,
            "kelurahan": self.kelurahan,
            "kecamatan": self.kecamatan,
            "provider": self.provider,
        }


class Registry(Section):
    city: str = "Kota Cilegon"
    points: list[Point] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Registry:
        seen: set[str] = set()
        for index, point in enumerate(self.points):
            if point.id in seen:
                raise ValueError(f"points[{index}]: duplicate point id {point.id!r}")
            seen.add(point.id)
        return self

    def by_id(self) -> dict[str, Point]:
        return {p.id: p for p in self.points}


def load_registry(path: str | Path) -> Registry:
    registry = load_config(path, Registry, env={})
    if not registry.points:
        raise ConfigError(f"{path}: the registry lists no points")
    return registry
