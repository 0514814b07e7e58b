"""Injected kernel divergences are reported exactly once, at the right event (issue 4 "Done means").

Healthy hand-built traces from the other test files are mutated one recorded output at a time: a word
changed to another plausible value, or the record removed (sequence numbers renumbered, so it looks like
the kernel never produced it). Each mutation must give exactly one finding that blames the kernel (or the
recorder, for a switch reason), at the mutated event or - for a removed event - at the event where its
absence shows.
"""

from __future__ import annotations

import numpy as np
from test_reference_loss import _after_boot, helping_trace, interrupt_trace
from test_reference_sched import _g_blocked_g2_running, _interrupt_wakes_g, sw

from replay.reference import replay_reference
from tracefmt.events import Kind, SwitchReason
from tracefmt.findings import Explanation, FindingCode
from tracefmt.nova import Hc, Status
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


def preempt_trace():
    from test_reference_support import Trace, x86

    t = Trace(x86())
    o = _g_blocked_g2_running(t)
    _interrupt_wakes_g(t, o)
    sw(t, 1, o["g2"], o["g"], o["g2sc"], o["gsc"], SwitchReason.PREEMPT)
    t.b.hc_exit(1, o["g"], Hc.CTRL_SM, Status.SUCCESS)
    return t


def arm_trace():
    from test_reference_irq import SEL, arrive, assign, block_root_on, irq_ev, pull_int, root_runs, wake_root
    from test_reference_support import Trace, arm

    from tracefmt.events import IrqCause, IrqKind

    t = Trace(arm())
    sm = pull_int(t, 2)
    assign(t, 0)
    spi = IrqKind.ARM_SPI
    for _ in range(2):
        block_root_on(t, sm, [(Kind.IRQ_DEACTIVATE, 2, spi, IrqCause.DOWN)])
        arrive(t, 34, 2, spi)
        irq_ev(t, Kind.IRQ_EOI, 2, spi, IrqCause.ARRIVAL, ec=t.ids.idle_ec[0])
        wake_root(t, sm, 2)
        root_runs(t)
    assert SEL
    return t


def budget_trace():
    from test_reference_sched import _two_queued
    from test_reference_support import Trace, run_started, x86

    from tracefmt.events import TimeoutKind

    t = Trace(x86())
    ids = t.ids
    g, gsc, g2, g2sc, h = _two_queued(t, 40, 40)
    run_started(t, 1, g, gsc, h, ids.idle_ec[1], ids.idle_sc[1], ipi=False)
    t.b.event(1, Kind.TIMEOUT, ec=g, timeout_kind=TimeoutKind.BUDGET, object=gsc, deadline=t.b.ts)
    run_started(t, 1, g2, g2sc, h, g, gsc, reason=SwitchReason.BUDGET, ipi=False)
    t.b.event(1, Kind.TIMEOUT, ec=g2, timeout_kind=TimeoutKind.BUDGET, object=g2sc, deadline=t.b.ts)
    t.b.event(
        1, Kind.SCHED_SWITCH, ec=g, from_ec=g2, to_ec=g, from_sc=g2sc, to_sc=gsc, switch_reason=SwitchReason.BUDGET
    )
    t.b.hc_entry(1, g, Hc.CTRL_SC, sel=0x302)
    t.b.hc_exit(1, g, Hc.CTRL_SC, Status.SUCCESS, out_p1=5)
    return t


def x86_2026_trace():
    from test_reference_irq import SEL, arrive, assign26, block_root_on, int_sm_2026, irq_ev, root_runs, wake_root
    from test_reference_support import Trace, x86

    from tracefmt.events import IrqCause, IrqKind

    t = Trace(x86(api="nova-2026"))
    sm = int_sm_2026(t, 16)
    assign26(t, True, SEL, 0x99, 2, 7, 0)
    pin = IrqKind.X86_PIN
    for _ in range(2):
        block_root_on(t, sm, [(Kind.IRQ_DEACTIVATE, 16, pin, IrqCause.DOWN)])
        arrive(t, 0x27, 16, pin)
        wake_root(t, sm, 16)
        irq_ev(t, Kind.IRQ_EOI, 16, pin, IrqCause.ARRIVAL, ec=t.ids.idle_ec[0])
        root_runs(t)
    return t


TRACES = (helping_trace, interrupt_trace, preempt_trace, arm_trace, budget_trace, x86_2026_trace)


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
