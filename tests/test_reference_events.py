"""Events (exceptions, recall, vCPU startup) as semi-inputs, kills, and the statuses the code never
returns although the specification lists them (domain.md 2.5, 6, 12; MODEL.md 8.3, 8.4, 12)."""

from __future__ import annotations

import pytest
from test_reference_support import EVT, ROOT_PD, Trace, start_global, status_findings, x86

from tracefmt.events import EventClass, KillReason, Kind, SwitchReason
from tracefmt.findings import FindingCode
from tracefmt.nova import CreatePdOp, CtrlHwOp, FlagCreateEc, Hc, Status

S = Status


def sw(t: Trace, cpu: int, a: int, b: int, sa: int, sb: int, why: int) -> int:
    return t.b.event(cpu, Kind.SCHED_SWITCH, ec=b, from_ec=a, to_ec=b, from_sc=sa, to_sc=sb, switch_reason=why)


def _exception_handler(t: Trace, vector: int = 14) -> int:
    """A local EC on CPU 1 handling exception ``vector`` of the global ECs (portal EVT + vector)."""
    h = t.create(Hc.CREATE_EC, 0x330, p1=ROOT_PD, p2=0x9000 | 1)
    t.create(Hc.CREATE_PT, EVT + vector, p1=ROOT_PD, p2=0x330, p3=0xB000)
    return h


def test_exception_goes_to_its_handler_and_back() -> None:
    t = Trace(x86())
    g, gsc, _ = start_global(t, 1, 0x300)
    h = _exception_handler(t)
    t.b.event(1, Kind.EVENT_DELIVERY, ec=g, event=14, handler=h, event_class=EventClass.EXCEPTION, portal=EVT + 14)
    sw(t, 1, g, h, gsc, gsc, SwitchReason.IPC_CALL)
    t.b.hc_entry(1, h, Hc.IPC_REPLY, p1=0)
    sw(t, 1, h, g, gsc, gsc, SwitchReason.IPC_REPLY)  # back to user mode: no HC_EXIT for an event
    t.b.hc_entry(1, g, Hc.CTRL_SC, sel=0x302)
    t.b.hc_exit(1, g, Hc.CTRL_SC, S.SUCCESS, out_p1=1)
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]


def test_exception_to_the_wrong_handler_is_one_finding() -> None:
    t = Trace(x86())
    g, gsc, h0 = start_global(t, 1, 0x300)
    _exception_handler(t)
    i = t.b.event(1, Kind.EVENT_DELIVERY, ec=g, event=14, handler=h0, event_class=EventClass.EXCEPTION, portal=EVT + 14)
    sw(t, 1, g, h0, gsc, gsc, SwitchReason.IPC_CALL)
    assert [(f.code, f.event, f.detail) for f in t.run().findings] == [(int(FindingCode.WORD_MISMATCH), i, 1)]


def test_exception_without_portal_kills_and_the_sc_leaves() -> None:
    t = Trace(x86())
    ids = t.ids
    g, gsc, _ = start_global(t, 1, 0x300)
    t.b.event(1, Kind.EC_KILL, ec=g, killed=g, kill_reason=KillReason.PT_NOT_FOUND)
    sw(t, 1, g, ids.idle_ec[1], gsc, ids.idle_sc[1], SwitchReason.KILL)
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    assert next(o for o in r.snapshot()["objects"] if o["id"] == g)["cont"] == "DEAD"
    # delivering an event the kernel would have refused is unexpected
    t2 = Trace(x86())
    g, gsc, h = start_global(t2, 1, 0x300)
    i = t2.b.event(1, Kind.EVENT_DELIVERY, ec=g, event=13, handler=h, event_class=EventClass.EXCEPTION, portal=EVT + 13)
    assert [(f.code, f.event) for f in t2.run().findings][:1] == [(int(FindingCode.UNEXPECTED_EVENT), i)]


def test_recall_event_needs_the_recall_flag() -> None:
    t = Trace(x86())
    g, gsc, h = start_global(t, 1, 0x300)
    t.create(Hc.CREATE_PT, EVT + 33, p1=ROOT_PD, p2=0x301, p3=0x7100)  # RECALL portal -> the STARTUP handler
    i = t.b.event(1, Kind.EVENT_DELIVERY, ec=g, event=33, handler=h, event_class=EventClass.RECALL, portal=EVT + 33)
    sw(t, 1, g, h, gsc, gsc, SwitchReason.IPC_CALL)
    assert [(f.code, f.event) for f in t.run().findings] == [(int(FindingCode.UNEXPECTED_EVENT), i)]


def test_vcpu_startup_uses_the_guest_event_base() -> None:
    """A vCPU's STARTUP goes through portal evt + 256 on x86 (SELGST/ARCH, domain.md 2.5)."""
    t = Trace(x86())
    ids = t.ids
    h = t.create(Hc.CREATE_EC, 0x311, p1=ROOT_PD, p2=0x6000 | 1)
    t.create(Hc.CREATE_PT, EVT + 256, p1=ROOT_PD, p2=0x311, p3=0x7000)
    v = t.create(Hc.CREATE_EC, 0x310, flags=FlagCreateEc.G, p1=ROOT_PD, p2=1, p4=EVT)
    sc = t.oid()
    t.call(Hc.CREATE_SC, None, sel=0x312, p1=ROOT_PD, p2=0x310, p3=5 | 30 << 16)
    t.event(Kind.IPI_SEND, target_cpu=1, ipi=0)
    t.b.hc_exit(0, t.ec, Hc.CREATE_SC, S.SUCCESS, created=sc)
    t.b.event(1, Kind.IPI_RECV, ec=ids.idle_ec[1], source_cpu=0, ipi=0)
    sw(t, 1, ids.idle_ec[1], v, ids.idle_sc[1], sc, SwitchReason.WAKE)
    t.b.event(1, Kind.EVENT_DELIVERY, ec=v, event=256, handler=h, event_class=EventClass.STARTUP, portal=EVT + 256)
    sw(t, 1, v, h, sc, sc, SwitchReason.IPC_CALL)
    # the vCPU exits: VM exit 30 (I/O) has no portal - the kernel kills it
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]


@pytest.mark.parametrize("call", [Hc.CREATE_SC, Hc.CREATE_PT])
def test_aborted_is_never_returned_where_the_code_cannot(call: Hc) -> None:
    """The specification lists ABORTED for create_sc/create_pt; the code returns it only for an object whose
    reference count already dropped to 0, impossible while the capability just looked up exists."""
    t = Trace(x86())
    if call == Hc.CREATE_SC:
        t.create(Hc.CREATE_EC, 0x300, flags=2, p1=ROOT_PD, p2=0x1000)
        i = t.call(call, S.ABORTED, sel=0x100, p1=ROOT_PD, p2=0x300, p3=5 | 10 << 16)
    else:
        t.create(Hc.CREATE_EC, 0x300, p1=ROOT_PD, p2=0x1000)
        i = t.call(call, S.ABORTED, sel=0x100, p1=ROOT_PD, p2=0x300, p3=0x1000)
    assert status_findings(t.run()) == [(int(FindingCode.STATUS_MISMATCH), i, int(S.SUCCESS), int(S.ABORTED))]


@pytest.mark.parametrize(("op", "recorded"), [(CtrlHwOp.SLEEP, S.ABORTED), (CtrlHwOp.SLEEP, S.SUCCESS)])
def test_ctrl_hw_sleep_outcomes_depend_on_the_machine(op: int, recorded: int) -> None:
    t = Trace(x86())
    t.call(Hc.CTRL_HW, recorded, flags=op)
    assert t.run().findings == []


@pytest.mark.parametrize("recorded", [S.SUCCESS, S.BAD_PAR, S.MEM_OBJ])
def test_create_pd_resource_and_x86_assign_dev_backend(recorded: int) -> None:
    t = Trace(x86())
    oid = t.oid() if recorded == S.SUCCESS else 0
    t.call(
        Hc.CREATE_PD,
        recorded if recorded != S.BAD_PAR else S.MEM_CAP,
        sel=0x80,
        flags=CreatePdOp.DMA,
        p1=ROOT_PD,
        created=oid,
    )
    if recorded == S.SUCCESS:
        t.call(Hc.ASSIGN_DEV, S.BAD_PAR, sel=0x80, p1=0xFED90000, p2=0x100)  # page-table root allocation
    assert t.run().findings == []
