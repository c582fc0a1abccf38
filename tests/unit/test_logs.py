"""Rate-limited log lines: the first at once, then a count every few minutes, never silent."""

from __future__ import annotations

from pantau.shared.logs import Throttle


def test_the_first_then_a_count_per_window_never_silenced() -> None:
    now = [1000.0]
    throttle = Throttle(every_s=300, clock=lambda: now[0])
    assert throttle.hit("not_json:cit-01", "a") == 1  # the first: logged at once
    assert [throttle.hit("not_json:cit-01", f"d{i}") for i in range(19_999)] == [0] * 19_999
    assert throttle.due() == []  # the window is not over
    assert throttle.hit("invalid:cit-01", "b") == 1  # another key has its own window
    now[0] += 300
    assert throttle.due() == [("not_json:cit-01", 19_999, "d19998")]  # the tail of the burst
    assert throttle.due() == []
    now[0] += 299
    assert throttle.hit("not_json:cit-01") == 0
    now[0] += 1
    assert throttle.hit("not_json:cit-01") == 2  # this one and the one held back
    now[0] += 3600
    assert throttle.hit("not_json:cit-01") == 1  # hours later: logged again at once
