"""Scheduling: preemption at the end of an action, the highest-priority invariant, budget expiry with the
head/tail rule, release queues (domain.md 7; MODEL.md 9). Event sequences written by hand.
"""

from __future__ import annotations

from test_reference_support import NOVA_OBJ, ROOT_OBJ, Trace, run_started, start_global, x86

from tracefmt.events import IrqCause, IrqKind, Kind, SwitchReason, TimeoutKind, UpCause, WakeReason
from tracefmt.findings import FindingCode
from tracefmt.nova import FlagCtrlSm, Hc, Status

S = Status
SEL = 0x1000


def sw(t: Trace, cpu: int, from_ec: int, to_ec: int, from_sc: int, to_sc: int, reason: int) -> int:
    return t.b.event(
        cpu,
        Kind.SCHED_SWITCH,
        ec=to_ec,
        from_ec=from_ec,
        to_ec=to_ec,
        from_sc=from_sc,
        to_sc=to_sc,
        switch_reason=reason,
    )


def _g_blocked_g2_running(t: Trace) -> dict[str, int]:
    """CPU 1: G (prio 50) blocked on MSI 30's semaphore, G2 (prio 40) running."""
    ids = t.ids
    t.call(Hc.CTRL_PD, S.SUCCESS, sel=NOVA_OBJ, p1=ROOT_OBJ, p2=(0x10000 + 30) << 12, p3=SEL << 12 | 0x1F)
    t.call(Hc.ASSIGN_INT, S.SUCCESS, sel=SEL, p1=1, out1=0xFEE00018, out2=30)
    sm = ids.int_sm[30]
    g, gsc, h = start_global(t, 1, 0x300, prio=50)
    t.b.hc_entry(1, g, Hc.CTRL_SM, sel=SEL, flags=FlagCtrlSm.D)
    t.b.event(1, Kind.SM_BLOCK, ec=g, sm=sm, deadline=0, sc=gsc)
    sw(t, 1, g, ids.idle_ec[1], gsc, ids.idle_sc[1], SwitchReason.BLOCK)
    g2, g2sc, _ = start_global(t, 1, 0x500, prio=40, handler=h)
    return {"sm": sm, "g": g, "gsc": gsc, "g2": g2, "g2sc": g2sc, "h": h}


def _interrupt_wakes_g(t: Trace, o: dict[str, int]) -> None:
    t.b.event(
        1, Kind.IRQ_ARRIVAL, ec=o["g2"], vector=0x20 + 30, irq=30, source=-1, irq_kind=IrqKind.X86_MSI, event_id=-1
    )
    t.b.event(1, Kind.SM_UP, ec=o["g2"], sm=o["sm"], counter=0, woken=o["g"], up_cause=UpCause.INTERRUPT, irq=30)
    t.b.event(1, Kind.EC_WAKE, ec=o["g2"], woken=o["g"], wake_reason=WakeReason.SM_UP, object=o["sm"], target_cpu=1)
    t.b.event(1, Kind.IRQ_EOI, ec=o["g2"], irq=30, irq_kind=IrqKind.X86_MSI, cause=IrqCause.ARRIVAL)


def test_interrupt_wakes_a_higher_priority_ec_which_preempts() -> None:
    t = Trace(x86())
    o = _g_blocked_g2_running(t)
    _interrupt_wakes_g(t, o)
    sw(t, 1, o["g2"], o["g"], o["g2sc"], o["gsc"], SwitchReason.PREEMPT)
    t.b.hc_exit(1, o["g"], Hc.CTRL_SM, S.SUCCESS)
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    cpu1 = r.snapshot()["cpus"][1]
    assert cpu1["ready"] == [o["g2sc"], t.ids.idle_sc[1]]  # G2 preempted with budget left: at the head


def test_missing_preemption_is_one_finding() -> None:
    t = Trace(x86())
    o = _g_blocked_g2_running(t)
    _interrupt_wakes_g(t, o)
    i = t.b.hc_entry(1, o["g2"], Hc.CTRL_SC, sel=0x502)  # G2 goes on running: the kernel did not switch
    t.b.hc_exit(1, o["g2"], Hc.CTRL_SC, S.SUCCESS, out_p1=10)
    assert [(f.code, f.event, f.detail) for f in t.run().findings] == [
        (int(FindingCode.MISSING_EVENT), i, int(Kind.SCHED_SWITCH))
    ]


def _two_queued(t: Trace, prio1: int, prio2: int) -> tuple[int, int, int, int, int]:
    """Root makes G (prio1) and G2 (prio2) on CPU 1 before CPU 1 takes the (single) RRQ."""
    g, gsc, h = start_global(t, 1, 0x300, prio=prio1, run=False)
    g2, g2sc, _ = start_global(t, 1, 0x500, prio=prio2, handler=h, queued=True)
    t.b.event(1, Kind.IPI_RECV, ec=t.ids.idle_ec[1], source_cpu=0, ipi=2 - 2)
    return g, gsc, g2, g2sc, h


def test_the_highest_priority_ready_sc_must_be_chosen() -> None:
    t = Trace(x86())
    _, gsc, g2, g2sc, h = _two_queued(t, 50, 40)
    run_started(t, 1, g2, g2sc, h, t.ids.idle_ec[1], t.ids.idle_sc[1], ipi=False)  # G2 (40) before G (50)
    r = t.run()
    assert [(f.code, f.expected, f.observed) for f in r.findings][:1] == [
        (int(FindingCode.SCHED_NOT_HIGHEST), gsc, g2sc)
    ]


def test_same_priority_order_is_not_enforced() -> None:
    t = Trace(x86())
    _, gsc, g2, g2sc, h = _two_queued(t, 40, 40)
    run_started(t, 1, g2, g2sc, h, t.ids.idle_ec[1], t.ids.idle_sc[1], ipi=False)  # FIFO says G first
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    assert r.snapshot()["cpus"][1]["ready"] == [gsc, t.ids.idle_sc[1]]


def test_budget_expiry_switches_to_the_next_sc_of_the_same_priority() -> None:
    t = Trace(x86())
    ids = t.ids
    g, gsc, g2, g2sc, h = _two_queued(t, 40, 40)
    run_started(t, 1, g, gsc, h, ids.idle_ec[1], ids.idle_sc[1], ipi=False)
    t.b.event(1, Kind.TIMEOUT, ec=g, timeout_kind=TimeoutKind.BUDGET, object=gsc, deadline=t.b.ts)
    run_started(t, 1, g2, g2sc, h, g, gsc, reason=SwitchReason.BUDGET, ipi=False)
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    assert r.snapshot()["cpus"][1]["ready"] == [gsc, ids.idle_sc[1]]  # refilled at the tail


def test_budget_expiry_alone_keeps_the_sc_running() -> None:
    t = Trace(x86())
    g, gsc, _ = start_global(t, 1, 0x300, prio=40)
    t.b.event(1, Kind.TIMEOUT, ec=g, timeout_kind=TimeoutKind.BUDGET, object=gsc, deadline=t.b.ts)
    t.b.hc_entry(1, g, Hc.CTRL_SC, sel=0x302)
    t.b.hc_exit(1, g, Hc.CTRL_SC, S.SUCCESS, out_p1=5)
    assert t.run().findings == []


def test_budget_timeout_of_an_sc_that_is_not_running_is_unexpected() -> None:
    t = Trace(x86())
    _, gsc, _ = start_global(t, 1, 0x300, prio=40)
    i = t.event(Kind.TIMEOUT, timeout_kind=TimeoutKind.BUDGET, object=gsc, deadline=t.b.ts)  # on CPU 0
    assert [(f.code, f.event) for f in t.run().findings] == [(int(FindingCode.UNEXPECTED_EVENT), i)]


def test_switch_out_of_nowhere_is_unexpected() -> None:
    t = Trace(x86())
    ids = t.ids
    i = sw(t, 0, ids.root_ec, ids.idle_ec[0], ids.root_sc, ids.idle_sc[0], SwitchReason.OTHER)
    assert [(f.code, f.event) for f in t.run().findings] == [(int(FindingCode.UNEXPECTED_EVENT), i)]


def test_ipi_recv_with_an_empty_release_queue_changes_nothing() -> None:
    t = Trace(x86())
    t.b.event(1, Kind.IPI_RECV, ec=t.ids.idle_ec[1], source_cpu=0, ipi=0)
    t.b.event(1, Kind.IPI_RECV, ec=t.ids.idle_ec[1], source_cpu=0, ipi=1)
    assert t.run().findings == []


def test_wake_event_fields_are_checked() -> None:
    t = Trace(x86())
    o = _g_blocked_g2_running(t)
    t.b.event(
        1, Kind.IRQ_ARRIVAL, ec=o["g2"], vector=0x20 + 30, irq=30, source=-1, irq_kind=IrqKind.X86_MSI, event_id=-1
    )
    t.b.event(1, Kind.SM_UP, ec=o["g2"], sm=o["sm"], counter=0, woken=o["g"], up_cause=UpCause.INTERRUPT, irq=30)
    i = t.b.event(1, Kind.EC_WAKE, ec=o["g2"], woken=o["g"], wake_reason=WakeReason.SM_UP, object=o["sm"], target_cpu=0)
    assert [(f.code, f.event, f.detail) for f in t.run().findings][:1] == [(int(FindingCode.WORD_MISMATCH), i, 3)]


def test_a_missing_wake_that_would_have_preempted_is_one_finding() -> None:
    """The kernel ups without waking the waiter (a divergence); the interrupted EC just goes on."""
    t = Trace(x86())
    o = _g_blocked_g2_running(t)
    t.b.event(
        1, Kind.IRQ_ARRIVAL, ec=o["g2"], vector=0x20 + 30, irq=30, source=-1, irq_kind=IrqKind.X86_MSI, event_id=-1
    )
    i = t.b.event(1, Kind.SM_UP, ec=o["g2"], sm=o["sm"], counter=1, woken=0, up_cause=UpCause.INTERRUPT, irq=30)
    t.b.event(1, Kind.IRQ_EOI, ec=o["g2"], irq=30, irq_kind=IrqKind.X86_MSI, cause=IrqCause.ARRIVAL)
    t.b.hc_entry(1, o["g2"], Hc.CTRL_SC, sel=0x502)
    t.b.hc_exit(1, o["g2"], Hc.CTRL_SC, S.SUCCESS, out_p1=3)
    assert [(f.code, f.event, f.detail) for f in t.run().findings] == [(int(FindingCode.WORD_MISMATCH), i, 2)]
