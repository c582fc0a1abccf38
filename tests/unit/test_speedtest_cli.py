"""The line `pantau agent speedtest` prints when the test server refuses the test (503): the
load it reported when it sent its load header, and when it asked to be tried again; without
them (an older server, no Retry-After) the line still says what happened."""

from __future__ import annotations

from pantau.agent.capacity.result import Measurement
from pantau.agent.speedtest_cli import server_busy_line


def refused(retry_after_s: float | None) -> Measurement:
    return Measurement(
        "http", "10.10.0.5:8080", 4, 10.0, server_busy=True, retry_after_s=retry_after_s
    )


def test_the_line_names_the_load_and_when_to_come_back() -> None:
    m = refused(30.0)
    m.note_load(8, 8, 41.3)
    assert server_busy_line("citangkil-03", m) == (
        "citangkil-03: the test server 10.10.0.5:8080 is busy: it runs its maximum of tests"
        " (8 of 8 tests running, CPU 41 %) and refused this one (HTTP 503); no test took place,"
        " try again in 30 s"
    )


def test_without_load_header_or_retry_after_it_still_says_busy() -> None:
    assert server_busy_line("citangkil-03", refused(None)) == (
        "citangkil-03: the test server 10.10.0.5:8080 is busy: it runs its maximum of tests"
        " and refused this one (HTTP 503); no test took place, try again later"
    )
