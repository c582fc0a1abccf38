"""The collector's live seq counters: gaps, duplicates and each point's span, per message."""

from __future__ import annotations

from pantau.collector.stats import Stats


def test_gaps_duplicates_and_spans_across_messages() -> None:
    stats = Stats()
    stats.observe_seqs("cit-01", [("b1", 0), ("b1", 1), ("b1", 2)])
    stats.observe_seqs("cit-01", [("b1", 5), ("b1", 4), ("b1", 6)])  # 3 and 4 missing, 4 late
    stats.observe_seqs("cit-02", [("b9", 10)])
    stats.observe_seqs("cit-01", [("b1", 6), ("b1", 7)])  # 6 again
    assert (stats.samples, stats.seq_gaps, stats.seq_duplicates) == (9, 2, 2)
    assert stats.seq_spans() == {"cit-01": (0, 7, 8), "cit-02": (10, 10, 1)}
    assert stats.snapshot()["seq_gaps"] == 2
