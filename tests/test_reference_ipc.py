"""IPC: rendezvous, reply, BAD_CAP / BAD_CPU / TIMEOUT / ABORTED, helping with SC parking, donation return,
STARTUP events, recall IPIs (domain.md 2.4 0x0/0x1, 2.5, 6, 12). Every event sequence is written by hand.
"""

from __future__ import annotations

from test_reference_support import (
    ROOT_PD,
    Trace,
    check_status,
    enter_local,
    start_global,
    status_findings,
    x86,
)

from tracefmt.builder import hypercall_word
from tracefmt.events import KillReason, Kind, SwitchReason, UpCause, WakeReason
from tracefmt.findings import FindingCode
from tracefmt.nova import FlagCtrlSm, FlagIpcCall, Hc, Ipi, Status

S = Status


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


def obj(r, oid: int) -> dict:
    return next(o for o in r.snapshot()["objects"] if o["id"] == oid)


def reply_to_root(t: Trace, local: int, portal: int, mtd: int, out: int | None = None, flags: int = 0) -> int:
    ids = t.ids
    t.b.hc_entry(0, local, Hc.IPC_REPLY, p1=mtd)
    sw(t, 0, local, ids.root_ec, ids.root_sc, ids.root_sc, SwitchReason.IPC_REPLY)
    p0 = hypercall_word(t.platform.api, Hc.IPC_CALL, portal, flags)  # ipc_call success leaves p0 untouched
    return t.b.hc_exit(0, ids.root_ec, Hc.IPC_CALL, p0, out_p1=mtd if out is None else out)


def test_rendezvous_and_reply() -> None:
    t = Trace(x86())
    local, portal = enter_local(t, mtd=3)
    reply_to_root(t, local, portal, 5)
    r = t.run()
    assert r.findings == []
    assert obj(r, local)["cont"] == "IDLE"
    assert (obj(r, t.ids.root_ec)["cont"], obj(r, t.ids.root_ec)["callee"]) == ("USER", 0)
    assert r.snapshot()["cpus"][0]["donations"] == 0


def test_reply_mtd_is_the_callers_out_p1() -> None:
    t = Trace(x86())
    local, portal = enter_local(t)
    i = reply_to_root(t, local, portal, 5, out=6)
    assert status_findings(t.run()) == [(int(FindingCode.OUT_MISMATCH), i, 5, 6)]


def test_t_flag_with_an_idle_callee_still_rendezvouses() -> None:
    t = Trace(x86())
    local, portal = enter_local(t, flags=FlagIpcCall.T)
    reply_to_root(t, local, portal, 1, flags=FlagIpcCall.T)  # p0 comes back with its T bit (0x...10)
    assert t.run().findings == []


def test_ipc_call_bad_cap_and_bad_cpu() -> None:
    check_status(lambda rec: (t := Trace(x86()), t.call(Hc.IPC_CALL, rec, sel=0x123)), S.BAD_CAP)

    def make(rec: int):
        t = Trace(x86())
        t.create(Hc.CREATE_EC, 0x310, p1=ROOT_PD, p2=0x2000 | 1)  # local EC on CPU 1
        t.create(Hc.CREATE_PT, 0x311, p1=ROOT_PD, p2=0x310, p3=0x4000)
        return t, t.call(Hc.IPC_CALL, rec, sel=0x311)

    check_status(make, S.BAD_CPU)


def test_killed_callee_aborts_the_call_and_later_calls() -> None:
    t = Trace(x86())
    ids = t.ids
    local, portal = enter_local(t)
    # the handler faults without an exception portal: killed (a semi-input), the caller gets ABORTED
    t.b.event(0, Kind.EC_KILL, ec=local, killed=local, kill_reason=KillReason.PT_NOT_FOUND)
    sw(t, 0, local, ids.root_ec, ids.root_sc, ids.root_sc, SwitchReason.KILL)
    t.b.hc_exit(0, ids.root_ec, Hc.IPC_CALL, S.ABORTED)
    t.ec = ids.root_ec
    i = t.call(Hc.IPC_CALL, S.ABORTED, sel=portal)
    r = t.run()
    assert r.findings == []
    assert obj(r, local)["cont"] == "DEAD"
    t2 = Trace(x86())
    local, portal = enter_local(t2)
    t2.b.event(0, Kind.EC_KILL, ec=local, killed=local, kill_reason=KillReason.PT_NOT_FOUND)
    sw(t2, 0, local, ids.root_ec, ids.root_sc, ids.root_sc, SwitchReason.KILL)
    t2.b.hc_exit(0, ids.root_ec, Hc.IPC_CALL, S.ABORTED)
    t2.ec = ids.root_ec
    i = t2.call(Hc.IPC_CALL, S.SUCCESS, sel=portal)
    assert status_findings(t2.run()) == [(int(FindingCode.STATUS_MISMATCH), i, int(S.ABORTED), int(S.SUCCESS))]


def _busy_callee(t: Trace) -> dict[str, int]:
    """CPU 1: G calls L1, L1 blocks on a semaphore (G's SC parked on L1); then G2 runs on CPU 1."""
    ids = t.ids
    sm = t.create(Hc.CREATE_SM, 0x100, p1=ROOT_PD, p2=0)
    g, gsc, h = start_global(t, 1, 0x300, prio=50)
    l1 = t.create(Hc.CREATE_EC, 0x310, p1=ROOT_PD, p2=0x9000 | 1)
    t.create(Hc.CREATE_PT, 0x320, p1=ROOT_PD, p2=0x310, p3=0xA000)
    t.b.hc_entry(1, g, Hc.IPC_CALL, sel=0x320)
    sw(t, 1, g, l1, gsc, gsc, SwitchReason.IPC_CALL)
    t.b.hc_entry(1, l1, Hc.CTRL_SM, sel=0x100, flags=FlagCtrlSm.D)
    t.b.event(1, Kind.SM_BLOCK, ec=l1, sm=sm, deadline=0, sc=gsc)
    sw(t, 1, l1, ids.idle_ec[1], gsc, ids.idle_sc[1], SwitchReason.BLOCK)
    g2, g2sc, _ = start_global(t, 1, 0x500, prio=40, handler=h)
    return {"sm": sm, "g": g, "gsc": gsc, "l1": l1, "g2": g2, "g2sc": g2sc, "h": h}


def test_busy_callee_with_t_flag_times_out() -> None:
    def make(rec: int):
        t = Trace(x86())
        o = _busy_callee(t)
        t.b.hc_entry(1, o["g2"], Hc.IPC_CALL, sel=0x320, flags=FlagIpcCall.T)
        return t, t.b.hc_exit(1, o["g2"], Hc.IPC_CALL, rec)

    check_status(make, S.TIMEOUT)


def test_helping_parks_on_a_blocked_chain_and_donation_returns() -> None:
    t = Trace(x86())
    ids = t.ids
    o = _busy_callee(t)
    # G2 helps the busy L1: L1 is blocked, so G2's SC is parked on L1 too and CPU 1 idles
    t.b.hc_entry(1, o["g2"], Hc.IPC_CALL, sel=0x320)
    sw(t, 1, o["g2"], ids.idle_ec[1], o["g2sc"], ids.idle_sc[1], SwitchReason.BLOCK)
    # root ups the semaphore: L1 released, both parked SCs go to CPU 1's release queue, one RRQ
    t.call(Hc.CTRL_SM, None, sel=0x100)
    t.event(Kind.SM_UP, sm=o["sm"], counter=0, woken=o["l1"], up_cause=UpCause.HYPERCALL, irq=-1)
    t.event(Kind.EC_WAKE, woken=o["l1"], wake_reason=WakeReason.SM_UP, object=o["sm"], target_cpu=1)
    t.event(Kind.IPI_SEND, target_cpu=1, ipi=Ipi.RRQ)
    t.b.hc_exit(0, ids.root_ec, Hc.CTRL_SM, S.SUCCESS)
    # CPU 1: G's SC (prio 50) runs its chain G -> L1: L1 returns from its down
    t.b.event(1, Kind.IPI_RECV, ec=ids.idle_ec[1], source_cpu=0, ipi=Ipi.RRQ)
    sw(t, 1, ids.idle_ec[1], o["l1"], ids.idle_sc[1], o["gsc"], SwitchReason.WAKE)
    t.b.hc_exit(1, o["l1"], Hc.CTRL_SM, S.SUCCESS)
    # L1 replies to G (donated chain: back to G on G's SC)
    t.b.hc_entry(1, o["l1"], Hc.IPC_REPLY, p1=7)
    sw(t, 1, o["l1"], o["g"], o["gsc"], o["gsc"], SwitchReason.IPC_REPLY)
    t.b.hc_exit(1, o["g"], Hc.IPC_CALL, hypercall_word(t.platform.api, Hc.IPC_CALL, 0x320), out_p1=7)
    # G blocks: G2's SC runs G2, which retries its call - now L1 is idle: rendezvous on G2's SC
    t.b.hc_entry(1, o["g"], Hc.CTRL_SM, sel=0x100, flags=FlagCtrlSm.D)
    t.b.event(1, Kind.SM_BLOCK, ec=o["g"], sm=o["sm"], deadline=0, sc=o["gsc"])
    sw(t, 1, o["g"], o["g2"], o["gsc"], o["g2sc"], SwitchReason.BLOCK)
    sw(t, 1, o["g2"], o["l1"], o["g2sc"], o["g2sc"], SwitchReason.IPC_CALL)
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    assert obj(r, o["l1"])["caller"] == o["g2"]
    assert obj(r, o["g"])["cont"] == "BLOCKED"
    assert r.snapshot()["cpus"][1]["current_sc"] == o["g2sc"]


def test_second_rrq_while_the_release_queue_is_full_is_unexpected() -> None:
    t = Trace(x86())
    ids = t.ids
    o = _busy_callee(t)
    t.b.hc_entry(1, o["g2"], Hc.IPC_CALL, sel=0x320)
    sw(t, 1, o["g2"], ids.idle_ec[1], o["g2sc"], ids.idle_sc[1], SwitchReason.BLOCK)
    t.call(Hc.CTRL_SM, None, sel=0x100)
    t.event(Kind.SM_UP, sm=o["sm"], counter=0, woken=o["l1"], up_cause=UpCause.HYPERCALL, irq=-1)
    t.event(Kind.EC_WAKE, woken=o["l1"], wake_reason=WakeReason.SM_UP, object=o["sm"], target_cpu=1)
    t.event(Kind.IPI_SEND, target_cpu=1, ipi=Ipi.RRQ)
    i = t.event(Kind.IPI_SEND, target_cpu=1, ipi=Ipi.RRQ)
    t.b.hc_exit(0, ids.root_ec, Hc.CTRL_SM, S.SUCCESS)
    assert [(f.code, f.event) for f in t.run().findings] == [(int(FindingCode.UNEXPECTED_EVENT), i)]


def test_reply_without_caller_drops_the_sc() -> None:
    t = Trace(x86())
    ids = t.ids
    g, gsc, _ = start_global(t, 1, 0x300)
    t.b.hc_entry(1, g, Hc.IPC_REPLY, p1=0)
    sw(t, 1, g, ids.idle_ec[1], gsc, ids.idle_sc[1], SwitchReason.BLOCK)
    r = t.run()
    assert r.findings == []
    assert obj(r, gsc)["state"] == "off"


def test_recall_of_a_remote_running_ec_sends_rke_once() -> None:
    t = Trace(x86())
    g, _, _ = start_global(t, 1, 0x300)
    t.call(Hc.CTRL_EC, None, sel=0x300)  # weak recall: G runs on CPU 1 -> RKE
    t.event(Kind.IPI_SEND, target_cpu=1, ipi=Ipi.RKE)
    t.b.hc_exit(0, t.ec, Hc.CTRL_EC, S.SUCCESS)
    t.call(Hc.CTRL_EC, S.SUCCESS, sel=0x300)  # hazard already set: no IPI
    r = t.run()
    assert r.findings == []
    assert obj(r, g)["recall"] is True
    t2 = Trace(x86())
    start_global(t2, 1, 0x300)
    i = t2.call(Hc.CTRL_EC, S.SUCCESS, sel=0x300, flags=1)  # strong recall without the RKE
    assert [(f.code, f.event, f.detail) for f in t2.run().findings] == [
        (int(FindingCode.MISSING_EVENT), i, int(Kind.IPI_SEND))
    ]
