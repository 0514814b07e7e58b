"""A trace that starts mid-run (a flight-recorder ring, a crash: no boot announcements) is a COLD_START: the
reference model seeds unknown state and learns it from what it observes (MODEL.md 3.3, 3.5), so a healthy
synthesized trace cut anywhere after its boot block replays with no WARNING/ERROR finding, on both
architectures and both generations - and kernel divergences injected after the cut are still found once the
model has seen the state they contradict.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from replay.reference import replay_reference
from synth.config import load_config
from synth.faults import labels_path
from synth.run import synthesize
from tracefmt.events import Kind
from tracefmt.findings import FindingCode, Severity
from tracefmt.io import open_trace
from tracefmt.schema import EventBatch, concat

SMALL = {"cpus": 4, "devices": 8, "irqs_per_device": 3}
PLATFORMS = [(a, g) for a in ("x86_64", "aarch64") for g in ("nova-2024", "nova-2026")]


def _trace(tmp: Path, scenario: str, arch: str, api: str, events: int, **kw):
    out = tmp / f"{scenario}-{arch}-{api}.parquet"
    synthesize(load_config(scenario, **{**SMALL, "events": events, "arch": arch, "api": api, **kw}), out)
    r = open_trace(out)
    return r.platform, concat(list(r.batches())), pq.read_table(labels_path(out)).to_pylist()


def _cut(b: EventBatch, j: int) -> EventBatch:
    return EventBatch(*(c[j:] for c in b))


def _after(b: EventBatch, kind: Kind, start: int, inside: bool = False) -> int:
    """The row just after the first ``kind`` at or after ``start``; ``inside``: one whose CPU records
    something else before its next input (the cut then starts inside that kernel action)."""
    for j in np.flatnonzero(b.kind[start:] == kind) + start:
        nxt = np.flatnonzero(b.cpu[j + 1 :] == b.cpu[j])
        if not inside or (len(nxt) and b.kind[j + 1 + nxt[0]] != Kind.HC_EXIT):
            return int(j) + 1
    raise AssertionError(f"no {kind.name} after {start}")


def _cold_points(b: EventBatch) -> list[int]:
    boot_end = int(np.flatnonzero(b.kind != Kind.OBJ_CREATED)[0])
    mid = b.n // 2
    return [
        boot_end + 1,
        boot_end + 700,
        b.n // 3,
        _after(b, Kind.HC_ENTRY, mid),  # mid-hypercall: its HC_EXIT comes without an entry
        _after(b, Kind.HC_ENTRY, mid, inside=True),  # mid-hypercall with outputs before the exit
        _after(b, Kind.IRQ_ARRIVAL, mid),  # mid-interrupt: SM_UP / EOI without the arrival
        _after(b, Kind.SM_BLOCK, mid),  # between a block and its switch
        _after(b, Kind.SCHED_SWITCH, 2 * b.n // 3),
    ]


@pytest.mark.parametrize(("arch", "api"), PLATFORMS)
def test_healthy_trace_cut_anywhere_is_a_cold_start_without_warnings(tmp_path: Path, arch: str, api: str) -> None:
    platform, b, _ = _trace(tmp_path, "healthy", arch, api, 6000)
    for j in _cold_points(b):
        findings = replay_reference(platform, _cut(b, j)).findings
        first = findings[0]
        assert (first.code, first.event, first.severity) == (FindingCode.COLD_START, 0, Severity.INFO), j
        loud = [(FindingCode(f.code).name, f.event + j) for f in findings if f.severity > Severity.INFO]
        assert loud == [], (arch, api, j)


def _near(b: EventBatch, label: dict, event: int, window: int = 8) -> bool:
    """``event`` (global row) is the label's event or one of the next ``window`` rows of the label's CPU: where a
    missing output (or a wrong wake's aftermath) shows."""
    e, c = label["event"], label["cpu"]
    rows = np.flatnonzero(b.cpu[e : e + 40 * window] == c)[:window] + e
    return event in rows


@pytest.mark.parametrize(("arch", "api"), PLATFORMS)
def test_divergence_after_the_cut_is_still_found(tmp_path: Path, arch: str, api: str) -> None:
    """Labels lie after the cut; every WARNING/ERROR finding is near a label (no false ones). What the cold
    model finds: a wrong status or a missing wake once the call's operands / the up have been seen, a wrong
    wake once the woken EC was seen blocked on another SM (else it shows as the real waiter's UNEXPECTED_EXIT,
    or not at all). Not found: divergences in the first events after the cut, whose state is still unknown."""
    platform, b, labels = _trace(tmp_path, "divergence", arch, api, 12000, divergence=0.01)
    found = total = 0
    for j in (b.n // 4, b.n // 2):
        findings = replay_reference(platform, _cut(b, j)).findings
        assert findings[0].code == FindingCode.COLD_START
        loud = [f.event + j for f in findings if f.severity > Severity.INFO]
        after = [lab for lab in labels if lab["event"] >= j]
        assert after, "the scenario injects divergences after the cut"
        for e in loud:
            assert any(_near(b, lab, e) for lab in after), (arch, api, j, e)
        for lab in after:
            hit = any(_near(b, lab, e) for e in loud)
            found += hit
            total += 1
            if lab["event"] >= j + 1000:  # the model has learned the state by then
                assert hit, (arch, api, j, lab)
    assert found >= 0.8 * total, (found, total)
