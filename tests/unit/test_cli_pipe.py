"""Output into a closed pipe (`pantau --help | head -1`) ends the command quietly: no
BrokenPipe traceback, the status a shell shows for a tool SIGPIPE stopped (141)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pantau.shared.cli import EXIT_CLOSED_PIPE

ROOT = Path(__file__).parent.parent.parent
CSV = ROOT / "shared" / "data" / "cilegon_kelurahan.csv"


def _into_closed_pipe(argv: list[str], unbuffered: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte, as `head -1` after its line
    try:
        return subprocess.run(
            [sys.executable, "-m", "pantau.shared.cli", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=env,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["registry", "generate"]])
def test_output_into_a_closed_pipe_ends_quietly(
    argv: list[str], unbuffered: bool, tmp_path: Path
) -> None:
    if argv[0] == "registry":  # a subcommand's own output
        argv = [*argv, "--csv", str(CSV), "--provider", "Awinet", "--out", str(tmp_path / "r")]
    result = _into_closed_pipe(argv, unbuffered)
    assert result.stderr == ""
    assert result.returncode == EXIT_CLOSED_PIPE == 141


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("command", ["report", "status", "demo", "agent"])
def test_a_subcommands_help_into_a_closed_pipe_ends_quietly(command: str, unbuffered: bool) -> None:
    """argparse drops a help text it cannot write (exit 0); one still buffered fails at our
    flush (141). Either way, not a word on stderr."""
    result = _into_closed_pipe([command, "--help"], unbuffered)
    assert result.stderr == ""
    assert result.returncode == (0 if unbuffered else EXIT_CLOSED_PIPE)


def test_help_into_head_prints_its_first_line() -> None:
    result = subprocess.run(
        f"{sys.executable} -m pantau.shared.cli --help | head -1",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == "usage: pantau <command> [options]\n"
    assert result.stderr == ""
