"""IPC: ipc_call, ipc_reply, helping, SC donation, event delivery and kills (MODEL.md 8; B24 src/syscall.cpp
``sys_ipc_call``/``sys_ipc_reply``/``send_msg``, src/ec.cpp ``help``/``activate``/``kill``/``reply``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from replay.reference import sched
from replay.reference.calls import Call, Verdict, finish_call, lookup, obj_of, valid
from replay.reference.state import BLOCKED_CONTS, Cont, Cpu, Ec, Pt
from tracefmt.events import EventClass, KillReason, Kind, SwitchReason, WakeReason
from tracefmt.findings import FindingCode
from tracefmt.nova import EVT_RECALL, EVT_STARTUP, SEL_GST_ARCH, SEL_HST_ARCH, EcSubtype, FlagIpcCall, ObjType, PermPt
from tracefmt.nova import Status as S

if TYPE_CHECKING:
    from replay.reference.model import Ev, ReferenceModel

ALL_IPC = (S.SUCCESS, S.TIMEOUT, S.ABORTED)


def _decide(call: Call, status: int) -> None:
    call.v.status = int(status)
    call.v.allowed |= 1 << int(status)


def _unsure(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    """The outcome depends on state the model does not know: learn it from the recording."""
    for s in ALL_IPC:
        call.v.allowed |= 1 << int(s)
    if call.v.status is None:
        call.v.status = int(S.SUCCESS)
    call.status = int(S.SUCCESS)
    call.ec.call = call
    call.ec.cont = None
    cpu.learning = True


def ipc_call(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    """B24 sys_ipc_call: BAD_CAP, BAD_CPU, rendezvous, TIMEOUT (T=1), ABORTED (dead callee), helping."""
    call.v = Verdict()
    v, caller = call.v, call.ec
    cap = lookup(m, call, call.f["pt_sel"])
    v.need(valid(cap, ObjType.PT, PermPt.CALL), S.BAD_CAP)
    pt = obj_of(cap)
    callee = pt.ec if isinstance(pt, Pt) else None
    same = None if callee is None or callee.cpu is None or caller.cpu is None else callee.cpu == caller.cpu
    v.need(same, S.BAD_CPU)
    if v.status is not None:
        finish_call(m, call, v.status)
        return
    if callee is None or callee.cont is None or not callee.links_known:
        _unsure(m, cpu, call)
        return
    if callee.cont == Cont.IDLE:
        _decide(call, S.SUCCESS)
        call.status = None  # returns when the callee replies
        caller.call = call
        rendezvous(m, cpu, caller, callee, event=False)
    elif call.f["flags"] & FlagIpcCall.T:
        _decide(call, S.TIMEOUT)
        finish_call(m, call, S.TIMEOUT)
    elif callee.cont == Cont.DEAD:
        _decide(call, S.ABORTED)
        finish_call(m, call, S.ABORTED)
    else:
        _decide(call, S.SUCCESS)
        call.status = None
        caller.call = call
        help_(m, cpu, caller, callee)


def rendezvous(m: ReferenceModel, cpu: Cpu, caller: Ec, callee: Ec, event: bool) -> None:
    caller.cont = Cont.CALLING
    caller.event_wait = event
    caller.callee, callee.caller = callee, caller
    if cpu.donations is not None:
        cpu.donations += 1
    callee.cont = Cont.RECV
    sched.switch_to(m, cpu, cpu.sc, callee, SwitchReason.IPC_CALL)


def help_(m: ReferenceModel, cpu: Cpu, caller: Ec, callee: Ec) -> None:
    """B24 Ec::help: retry later; preemption point; run the callee's chain on the current SC."""
    caller.cont = Cont.RETRY
    if cpu.resched:
        return  # end_action reschedules first (PREEMPT)
    end, n = sched.chain_end(callee)
    if end is None or end.cont is None:
        sched.unknown_schedule(cpu)
        return
    if end.cont in BLOCKED_CONTS:
        sched.park_current(m, cpu, end)
        return
    sched.switch_to(m, cpu, cpu.sc, end, SwitchReason.HELP)
    cpu.donations = n


def retry(m: ReferenceModel, cpu: Cpu, ec: Ec) -> None:
    """A helper runs again: it re-executes its ipc_call (or re-sends its event) from the start."""
    call = ec.call
    if isinstance(call, Call) and call.hc == 0:
        ipc_call(m, cpu, call)
    elif ec.event_wait:
        deliver(m, cpu, ec, ec.reply_mtd or 0, None)
    else:
        ec.cont = None


def ipc_reply(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    """B24 sys_ipc_reply + Ec::reply. The replying EC never gets an HC_EXIT."""
    e = call.ec
    if not e.links_known or cpu.sc is None:
        e.cont = Cont.IDLE
        e.links_known = True
        e.caller = None
        sched.unknown_schedule(cpu)
        cpu.learning = True
        return
    caller = e.caller
    if caller is not None and not caller.event_wait and caller.call is not None:
        caller.call.out1 = call.f["mtd"]
    reply(m, cpu, e, Cont.IDLE, SwitchReason.IPC_REPLY, S.SUCCESS)


def reply(m: ReferenceModel, cpu: Cpu, e: Ec, cont: Cont, reason: int, status: int) -> None:
    """B24 Ec::reply: unlink; switch to the caller if the chain was donated, else the SC's own EC."""
    e.cont = cont
    caller = e.caller
    if caller is None:
        _drop(cpu)
        return
    if caller.event_wait:
        caller.cont = Cont.USER if status == S.SUCCESS else Cont.DEAD
    else:
        caller.cont = Cont.EXIT
        if caller.call is not None:
            caller.call.decide(status)
    caller.callee, e.caller = None, None
    d = cpu.donations
    if d is None:
        sched.unknown_schedule(cpu)
        cpu.learning = True
        return
    cpu.donations = d - 1
    wake_reason = WakeReason.IPC_REPLY if status == S.SUCCESS else WakeReason.ABORTED
    if d > 0:
        m.emit(cpu.n, Kind.EC_WAKE, [caller, int(wake_reason), e, caller.cpu, 0], optional=True)
        sched.switch_to(m, cpu, cpu.sc, caller, reason)
        return
    own = cpu.sc.ec
    end, n = sched.chain_end(own) if own is not None else (None, 0)
    if end is None or end.cont is None:
        sched.unknown_schedule(cpu)
        return
    if end.cont in BLOCKED_CONTS:
        sched.park_current(m, cpu, end)
        return
    sched.switch_to(m, cpu, cpu.sc, end, reason)
    cpu.donations = n


def _drop(cpu: Cpu) -> None:
    """No caller: the current SC leaves the CPU without being queued anywhere (schedule(blocked))."""
    if cpu.sc is not None:
        cpu.sc.state = "off"
    cpu.drop = True


def kill(m: ReferenceModel, cpu: Cpu, ec: Ec, reason: int | None) -> None:
    """B24 Ec::kill: EC_KILL, caller ABORTED (hypercall) or dead (event), then reply(dead)."""
    m.emit(cpu.n, Kind.EC_KILL, [ec, int(KillReason.IPC_ABORT if reason is None else reason), 0, 0, 0])
    if ec.call is not None:
        ec.call = None
    ec.links_known = ec.links_known and cpu.donations is not None
    reply(m, cpu, ec, Cont.DEAD, SwitchReason.KILL, S.ABORTED)


def startup_event(m: ReferenceModel, ec: Ec) -> int:
    base = SEL_GST_ARCH[m.arch] if ec.subtype in (EcSubtype.VCPU_REAL, EcSubtype.VCPU_OFFS) else SEL_HST_ARCH[m.arch]
    return base + EVT_STARTUP


def deliver_pending_event(m: ReferenceModel, cpu: Cpu, ec: Ec) -> None:
    """A new global EC / vCPU is made current for the first time: its STARTUP event is sent."""
    deliver(m, cpu, ec, startup_event(m, ec), EventClass.STARTUP)


def deliver(m: ReferenceModel, cpu: Cpu, x: Ec, event: int, cls: int | None, expect: bool = True) -> Ec | None:
    """B24 Ec::send_msg from current EC ``x``: kill, rendezvous or help. Returns the handler."""
    if x.evt is None or x.space is None:
        x.cont = None
        cpu.learning = True
        return None
    portal = x.evt + event
    cap = x.space.lookup(portal)
    ok = valid(cap, ObjType.PT, PermPt.EVENT)
    if ok is None:
        x.cont = None
        cpu.learning = True
        return None
    if not ok:
        kill(m, cpu, x, KillReason.PT_NOT_FOUND)
        return None
    pt = cap.obj
    handler = pt.ec
    if handler is None or handler.cpu is None or handler.cont is None:
        x.cont = None
        cpu.learning = True
        return None
    x.reply_mtd = event
    if handler.cpu != x.cpu:
        kill(m, cpu, x, KillReason.PT_WRONG_CPU)
        return None
    if expect:
        m.emit(cpu.n, Kind.EVENT_DELIVERY, [event, handler, None if cls is None else int(cls), portal, 0], ec=x)
    if handler.cont == Cont.IDLE:
        rendezvous(m, cpu, x, handler, event=True)
    elif handler.cont == Cont.DEAD:
        kill(m, cpu, x, KillReason.IPC_ABORT)
    else:
        x.event_wait = True
        help_(m, cpu, x, handler)
    return handler


def event_delivery(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    """EVENT_DELIVERY: an expected one (STARTUP, retries) is an output; otherwise a semi-input."""
    from replay.reference import observe

    if observe.output(m, cpu, ev, unexpected_ok=True):
        return
    m.flush(cpu)
    cpu.learning = False
    m.action[cpu.n] = ev.i
    m.check_current(cpu, ev, ev.ec)
    x = cpu.ec
    if x is None:
        return
    event, cls = ev.a[0], ev.a[2]
    if cls == EventClass.RECALL:
        if x.recall is False:
            m.report(FindingCode.UNEXPECTED_EVENT, ev, x.id, detail=int(Kind.EVENT_DELIVERY))
        x.recall = False
    if cls == EventClass.STARTUP and x.cont not in (Cont.EVENT, None):
        m.report(FindingCode.UNEXPECTED_EVENT, ev, x.id, detail=int(Kind.EVENT_DELIVERY))
    handler = deliver(m, cpu, x, event, cls, expect=False)
    if handler is not None and handler.id != ev.a[1]:
        m.report(FindingCode.WORD_MISMATCH, ev, x.id, handler.id, ev.a[1], 1)
    sched.end_action(m, cpu)


_ = (EVT_RECALL, Pt)
