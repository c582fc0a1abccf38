"""Folders Pantau keeps its data in (a `state_dir`, an evidence archive), checked before use.

Otherwise a folder that cannot be made or written in is found by the first mkdir or SQLite open
deep inside a start: a traceback for one process, and a worker that dies at every restart under
the collector's supervisor. The same check serves `--check` and the start, on the collector's
side and the agent's. Plain Python, no pydantic: the running agent imports it too (agent/cli.py,
agent/settings.py).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from pantau.shared.errors import ConfigError

NOT_A_DIRECTORY = "not a directory"


@dataclass(frozen=True)
class FolderCheck:
    """`place`: the folder, or when it is missing the nearest parent it would be made in.
    `problem`: why it cannot be used (NOT_A_DIRECTORY, "cannot write: ..."), None if it can."""

    folder: Path
    place: Path
    problem: str | None


def check_folder(folder: Path) -> FolderCheck:
    """Whether `folder` can be made (if missing) and written in, tried for real: a file is made
    in it (or in the parent it would be made in) and removed. Nothing else is left behind."""
    place = folder
    try:
        while not place.exists() and place != place.parent:
            place = place.parent
        if not place.is_dir():
            return FolderCheck(folder, place, NOT_A_DIRECTORY)
    except OSError as exc:  # a parent this user may not look into
        return FolderCheck(folder, place, f"cannot look: {exc.strerror}")
    try:
        with tempfile.NamedTemporaryFile(dir=place, prefix=".pantau-check-"):
            pass
    except OSError as exc:
        return FolderCheck(folder, place, f"cannot write: {exc.strerror}")
    return FolderCheck(folder, place, None)


def require_folder(folder: Path, setting: str, source: str | Path) -> None:
    """Raise one ConfigError line naming the config file, the setting, the folder and what is
    wrong (with the parent at fault when the folder itself is missing)."""
    found = check_folder(folder)
    if found.problem is None:
        return
    what = found.problem
    if found.place != folder:
        what = f"cannot be made in {found.place} ({what})"
    raise ConfigError(
        f"{source}: {setting} {folder}: {what}; set {setting} to a folder this user can write"
    )
