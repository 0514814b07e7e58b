"""Injected kernel divergences are reported exactly once, at the right event (issue 4 "Done means").

Healthy hand-built traces from the other test files are mutated one recorded output at a time: a word
changed to another plausible value, or the record removed (sequence numbers renumbered, so it looks like
the kernel never produced it). Each mutation must give exactly one finding that blames the kernel (or the
recorder, for a switch reason), at the mutated event or - for a removed event - at the event where its
absence shows.
"""

from __future__ import annotations

import numpy as np
from test_reference_traces import TRACES, _after_boot

from replay.reference import replay_reference
from tracefmt.events import Kind, SwitchReason
from tracefmt.findings import Explanation, FindingCode
from tracefmt.nova import Status
from tracefmt.schema import EventBatch

# word index -> replacement, per output kind (plausible values: other ids, other enum members)
_MUTATIONS = {
    Kind.SM_UP: (1, 2),  # counter, woken
    Kind.SM_BLOCK: (1,),  # deadline
    Kind.EC_WAKE: (1, 3),  # wake_reason, target_cpu
    Kind.SCHED_SWITCH: (3, 4),  # to_sc, switch_reason
    Kind.IPI_SEND: (1,),  # ipi
    Kind.IRQ_MASK: (1, 2),
    Kind.IRQ_UNMASK: (1, 2),
    Kind.IRQ_EOI: (1, 2),
    Kind.IRQ_DEACTIVATE: (1, 2),
}


def _other(kind: int, w: int, v: int, b: EventBatch) -> int:
    if kind == Kind.SCHED_SWITCH and w == 4:
        return SwitchReason.OTHER if v != SwitchReason.OTHER else SwitchReason.BLOCK
    if kind == Kind.SCHED_SWITCH and w == 3:
        return int(b.a2[0]) if False else v + 0x1000  # an SC id nothing introduced
    if kind == Kind.EC_WAKE and w == 3:
        return 1 - v
    if w == 1 and kind in (Kind.IPI_SEND,):
        return 1 - v
    if kind in (Kind.IRQ_MASK, Kind.IRQ_UNMASK, Kind.IRQ_EOI, Kind.IRQ_DEACTIVATE):
        return (v + 1) % 2 if w == 2 else (v % 6) + 1
    if kind == Kind.SM_UP and w == 2:
        return 0 if v else 0x10120  # woke nobody / woke the root EC instead
    return v + 1


def _blaming(findings: list) -> list:
    return [f for f in findings if f.explanation in (Explanation.KERNEL, Explanation.RECORDER)]


def test_one_changed_word_is_one_finding_at_that_event() -> None:
    for make in TRACES:
        t = make()
        b = t.b.batch()
        assert replay_reference(t.platform, b).findings == []
        for j in range(_after_boot(t), b.n):
            kind = int(b.kind[j])
            for w in _MUTATIONS.get(kind, ()):
                cols = [np.array(c) for c in b]
                word = cols[6 + w]
                word[j] = _other(kind, w, int(word[j]), b)
                r = replay_reference(t.platform, EventBatch(*cols))
                blame = _blaming(r.findings)
                assert len(blame) == 1 and blame[0].event == j, (
                    make.__name__,
                    j,
                    Kind(kind).name,
                    w,
                    [tuple(f) for f in r.findings],
                )


def test_one_changed_status_is_one_status_finding() -> None:
    for make in TRACES:
        t = make()
        b = t.b.batch()
        for j in range(_after_boot(t), b.n):
            if int(b.kind[j]) != Kind.HC_EXIT or int(b.a0[j]) not in (0, 1):
                continue
            cols = [np.array(c) for c in b]
            cols[6][j] = int(Status.BAD_DEV)
            r = replay_reference(t.platform, EventBatch(*cols))
            blame = _blaming(r.findings)
            assert [(f.code, f.event) for f in blame] == [(int(FindingCode.STATUS_MISMATCH), j)], (
                make.__name__,
                j,
                [tuple(f) for f in r.findings],
            )


def test_one_missing_output_is_one_missing_finding() -> None:
    for make in TRACES:
        t = make()
        b = t.b.batch()
        for j in range(_after_boot(t), b.n):
            kind = int(b.kind[j])
            if kind not in _MUTATIONS:
                continue
            keep = np.array([k for k in range(b.n) if k != j])
            cols = [np.array(c) for c in b]
            later = (np.arange(b.n) > j) & (cols[1] == cols[1][j])
            cols[2] = np.where(later, cols[2] - 1, cols[2])  # no sequence gap: the kernel did not record it
            r = replay_reference(t.platform, EventBatch(*(c[keep] for c in cols)))
            blame = _blaming(r.findings)
            codes = {int(FindingCode.MISSING_EVENT), int(FindingCode.MISSING_EXIT), int(FindingCode.SCHED_NOT_HIGHEST)}
            if kind == Kind.SCHED_SWITCH:  # the next recorded switch is compared with the missing one instead
                codes.add(int(FindingCode.WORD_MISMATCH))
            assert len(blame) <= 1, (make.__name__, j, Kind(kind).name, [tuple(f) for f in r.findings])
            if blame:
                assert blame[0].code in codes and blame[0].event >= j - 1, (
                    make.__name__,
                    j,
                    Kind(kind).name,
                    [tuple(f) for f in r.findings],
                )
