"""Recorder loss and flight-recorder traces (MODEL.md 3.3-3.6): state touched by lost records becomes
unknown, replay goes on, and nothing is blamed on the kernel that a gap can explain.

The properties run over healthy hand-built traces from the other test files: every single record removed
(a sequence gap), and every cut of the trace's head (a trace that starts mid-run).
"""

from __future__ import annotations

from test_reference_support import Trace, x86
from test_reference_traces import TRACES, _after_boot

from replay.reference import replay_reference
from tracefmt.events import Kind
from tracefmt.findings import Explanation, FindingCode
from tracefmt.nova import Hc, Status

S = Status


def _blamed(findings: list) -> list:
    """Findings that blame the kernel, the recorder or the input (anything a gap should have explained)."""
    return [tuple(f) for f in findings if f.explanation != Explanation.TRACE_LOSS]


def test_the_base_traces_are_healthy() -> None:
    for make in TRACES:
        assert make().run().findings == [], make.__name__


def _without_row(t: Trace, j: int):
    b = t.b.batch()
    keep = [k for k in range(b.n) if k != j]
    return b.__class__(*(col[keep] for col in b))


def test_any_single_lost_record_is_explained_by_the_gap() -> None:
    for make in TRACES:
        t = make()
        n = len(t.b.rows)
        start = _after_boot(t)  # a gap inside the boot announcements is a different story (BOOT_INCOMPLETE)
        for j in range(start, n - 1):
            r = replay_reference(t.platform, _without_row(t, j))
            codes = [f.code for f in r.findings]
            later = any(row[1] == t.b.rows[j][1] for row in t.b.rows[j + 1 :])  # visible only before another row
            assert (int(FindingCode.TRACE_GAP) in codes) == later, (make.__name__, j)
            assert _blamed(r.findings) == [], (make.__name__, j, _blamed(r.findings))


def test_a_trace_cut_anywhere_starts_cold_without_blame() -> None:
    for make in TRACES:
        t = make()
        b = t.b.batch()
        for cut in range(_after_boot(t), b.n - 1, 3):
            r = replay_reference(t.platform, b.slice(cut, b.n))
            assert [f.code for f in r.findings][:1] == [int(FindingCode.COLD_START)], (make.__name__, cut)
            assert _blamed(r.findings) == [], (make.__name__, cut, _blamed(r.findings))


def test_recorded_loss_is_one_info_finding_with_the_count() -> None:
    t = Trace(x86())
    t.b.skip_seq(1, 5)
    i = t.b.event(1, Kind.RECORDER_LOSS, ec=t.ids.idle_ec[1], lost=5, first_ts=-1, last_ts=-1, first_seq=0)
    r = t.run()
    assert [(f.code, f.event, f.subject, f.explanation) for f in r.findings] == [
        (int(FindingCode.TRACE_GAP), i, 5, int(Explanation.TRACE_LOSS))
    ]
    s = r.snapshot()
    assert s["knowledge"]["losses"] == 1
    assert s["cpus"][1]["current_ec"] is None and s["cpus"][1]["ready_complete"] is False


def test_after_a_gap_the_model_relearns_and_checks_again() -> None:
    """Loss on CPU 1 does not stop the model from catching a divergence on CPU 0 afterwards."""
    t = Trace(x86())
    t.b.skip_seq(1, 3)
    t.b.event(1, Kind.RECORDER_LOSS, ec=t.ids.idle_ec[1], lost=3, first_ts=-1, last_ts=-1, first_seq=0)
    i = t.call(Hc.CREATE_SM, S.SUCCESS, sel=0x3FFFB, p1=0x3FFFD)  # the root SC's selector: occupied
    r = t.run()
    # the root space is reachable only from CPU 0 ECs: still known, so BAD_CAP is expected
    assert [(f.code, f.event) for f in r.findings if f.code != FindingCode.TRACE_GAP] == [
        (int(FindingCode.STATUS_MISMATCH), i)
    ]


def test_lost_runs_of_records_are_explained_by_the_gap() -> None:
    """Windows of 2..6 consecutive records of one CPU lost at once."""
    for make in TRACES:
        t = make()
        b = t.b.batch()
        start = _after_boot(t)
        for cpu in (0, 1):
            rows = [k for k in range(start, b.n) if int(b.cpu[k]) == cpu]
            for width in (2, 3, 6):
                for s in range(0, len(rows) - width, 2):
                    gone = set(rows[s : s + width])
                    keep = [k for k in range(b.n) if k not in gone]
                    r = replay_reference(t.platform, b.__class__(*(col[keep] for col in b)))
                    assert _blamed(r.findings) == [], (make.__name__, cpu, width, s, _blamed(r.findings))
