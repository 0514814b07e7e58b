"""The hand-written sample trace (sample_traces/x86-tiny.parquet) replays without divergence."""

from __future__ import annotations

from pathlib import Path

from replay.reference import replay_reference
from tracefmt.findings import FindingCode, Severity
from tracefmt.io import open_trace

SAMPLE = Path(__file__).resolve().parent.parent / "sample_traces" / "x86-tiny.parquet"


def test_sample_trace_replays_with_only_its_recorded_loss() -> None:
    t = open_trace(SAMPLE)
    r = replay_reference(t.platform, list(t.batches()))
    assert [f for f in r.findings if f.severity != Severity.INFO] == []
    assert [FindingCode(f.code) for f in r.findings] == [FindingCode.TRACE_GAP]
    gsi16 = next(e for e in r.snapshot()["interrupts"] if e["irq"] == 16)
    assert (gsi16["cpu"], gsi16["masked"], gsi16["flags"]) == (0, False, 0x6)  # routed, unmasked by the down
