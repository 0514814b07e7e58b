"""Healthy hand-built traces the loss and divergence properties mutate (no tests here).

Each is written event by event as a recorder would write it (helpers from the other reference tests) and
replays clean; test_reference_loss and test_reference_divergence drop or change its records.
"""

from __future__ import annotations

from test_reference_ipc import _busy_callee, sw
from test_reference_irq import _level_pin_cycle
from test_reference_sched import _g_blocked_g2_running, _interrupt_wakes_g
from test_reference_support import Trace, x86

from tracefmt.events import Kind, SwitchReason, UpCause, WakeReason
from tracefmt.nova import Hc, Ipi, Status

S = Status


def helping_trace() -> Trace:
    """The helping scenario of test_reference_ipc: two CPUs, parking, release queue, donation."""
    from tracefmt.builder import hypercall_word

    t = Trace(x86())
    ids = t.ids
    o = _busy_callee(t)
    t.b.hc_entry(1, o["g2"], Hc.IPC_CALL, sel=0x320)
    sw(t, 1, o["g2"], ids.idle_ec[1], o["g2sc"], ids.idle_sc[1], SwitchReason.BLOCK)
    t.call(Hc.CTRL_SM, None, sel=0x100)
    t.event(Kind.SM_UP, sm=o["sm"], counter=0, woken=o["l1"], up_cause=UpCause.HYPERCALL, irq=-1)
    t.event(Kind.EC_WAKE, woken=o["l1"], wake_reason=WakeReason.SM_UP, object=o["sm"], target_cpu=1)
    t.event(Kind.IPI_SEND, target_cpu=1, ipi=Ipi.RRQ)
    t.b.hc_exit(0, ids.root_ec, Hc.CTRL_SM, S.SUCCESS)
    t.b.event(1, Kind.IPI_RECV, ec=ids.idle_ec[1], source_cpu=0, ipi=Ipi.RRQ)
    sw(t, 1, ids.idle_ec[1], o["l1"], ids.idle_sc[1], o["gsc"], SwitchReason.WAKE)
    t.b.hc_exit(1, o["l1"], Hc.CTRL_SM, S.SUCCESS)
    t.b.hc_entry(1, o["l1"], Hc.IPC_REPLY, p1=7)
    sw(t, 1, o["l1"], o["g"], o["gsc"], o["gsc"], SwitchReason.IPC_REPLY)
    t.b.hc_exit(1, o["g"], Hc.IPC_CALL, hypercall_word(t.platform.api, Hc.IPC_CALL, 0x320), out_p1=7)
    t.b.hc_entry(1, o["g"], Hc.CTRL_SM, sel=0x100, flags=1)
    t.b.event(1, Kind.SM_BLOCK, ec=o["g"], sm=o["sm"], deadline=0, sc=o["gsc"])
    sw(t, 1, o["g"], o["g2"], o["gsc"], o["g2sc"], SwitchReason.BLOCK)
    sw(t, 1, o["g2"], o["l1"], o["g2sc"], o["g2sc"], SwitchReason.IPC_CALL)
    return t


def interrupt_trace() -> Trace:
    t = Trace(x86())
    _level_pin_cycle(t)
    _level_pin_cycle_again(t)
    return t


def _level_pin_cycle_again(t: Trace) -> None:
    """A second round of the level-pin cycle on the already assigned GSI 16 (the root downs again)."""
    from test_reference_irq import SEL, arrive, irq_ev, root_runs, wake_root

    from tracefmt.events import IrqCause, IrqKind

    ids = t.ids
    sm = ids.int_sm[16]
    pin = IrqKind.X86_PIN
    t.call(Hc.CTRL_SM, None, sel=SEL, flags=1)
    irq_ev(t, Kind.IRQ_UNMASK, 16, pin, IrqCause.DOWN)
    t.event(Kind.SM_BLOCK, sm=sm, deadline=0, sc=ids.root_sc)
    t.event(
        Kind.SCHED_SWITCH,
        ec=ids.idle_ec[0],
        from_ec=ids.root_ec,
        to_ec=ids.idle_ec[0],
        from_sc=ids.root_sc,
        to_sc=ids.idle_sc[0],
        switch_reason=SwitchReason.BLOCK,
    )
    arrive(t, 0x30, 16, pin)
    irq_ev(t, Kind.IRQ_MASK, 16, pin, IrqCause.ARRIVAL, ec=ids.idle_ec[0])
    wake_root(t, sm, 16)
    irq_ev(t, Kind.IRQ_EOI, 16, pin, IrqCause.ARRIVAL, ec=ids.idle_ec[0])
    root_runs(t)


def preempt_trace():
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


def _after_boot(t: Trace) -> int:
    """Index of the first row after the boot block and the BSP's switch to the root."""
    return next(k for k, row in enumerate(t.b.rows) if row[3] != Kind.OBJ_CREATED) + 1
