"""A SIGTERM that lands where Python drops exceptions (a `__del__`, a callback of `os.fork`)
still stops the demo: the Interrupted it raised there is raised again in the code after."""

from __future__ import annotations

import os
import signal

import pytest

from pantau.collector.lab.demo import stop


class SignalledWhileDropped:
    """Sends SIGTERM from its `__del__`, where the handler then runs: what it raises there is
    dropped ("Exception ignored in ..."; without the second sending the demo went on)."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # bounded: the handler runs at the first check
            pass


def test_a_signal_handled_where_exceptions_are_dropped_still_interrupts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reached_after = 0
    with pytest.raises(stop.Interrupted) as raised, stop.interruptible():
        dropped = SignalledWhileDropped()
        del dropped
        for _ in range(10_000_000):  # bounded: the signal comes again long before the end
            reached_after += 1
    assert raised.value.signum == signal.SIGTERM
    assert reached_after < 10_000_000
    assert "Exception ignored" not in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back as it was
