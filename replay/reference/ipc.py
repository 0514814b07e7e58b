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
from tracefmt.nova import EVT_STARTUP, SEL_GST_ARCH, SEL_HST_ARCH, EcSubtype, FlagIpcCall, ObjType, PermPt
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
    elif ec.event_wait and ec.event_no is not None:
        deliver(m, cpu, ec, ec.event_no, None)
    else:
        ec.cont = None


def ipc_reply(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    """B24 sys_ipc_reply + Ec::reply. The replying EC never gets an HC_EXIT."""
    e = call.ec
    if not e.links_known or cpu.sc is None:
        e.cont = Cont.IDLE
        e.links_known = True
        if e.caller is not None and e.caller.callee is e:
            e.caller.callee = None  # the reply unlinks; where the CPU goes next is learned
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
    if d is None or cpu.sc is None:
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
    if cpu.drop:  # nobody to return to: the SC leaves the CPU now (reason KILL)
        sched.schedule(m, cpu, True, SwitchReason.KILL)


def startup_event(m: ReferenceModel, ec: Ec) -> int:
    base = SEL_GST_ARCH[m.arch] if ec.subtype in (EcSubtype.VCPU_REAL, EcSubtype.VCPU_OFFS) else SEL_HST_ARCH[m.arch]
    return base + EVT_STARTUP


def deliver_pending_event(m: ReferenceModel, cpu: Cpu, ec: Ec) -> None:
    """A new global EC / vCPU is made current for the first time: its STARTUP event is sent."""
    deliver(m, cpu, ec, startup_event(m, ec), EventClass.STARTUP)


def handler_of(m: ReferenceModel, x: Ec, event: int) -> tuple[str, Ec | None]:
    """Which EC an event of ``x`` goes to: ("ok", handler), ("kill", None) with the reason, or ("unknown", None)."""
    if x.evt is None or x.space is None:
        return "unknown", None
    cap = x.space.lookup(x.evt + event)
    ok = valid(cap, ObjType.PT, PermPt.EVENT)
    if ok is None:
        return "unknown", None
    if not ok:
        return "PT_NOT_FOUND", None
    handler = cap.obj.ec
    if handler is None or handler.cpu is None or x.cpu is None:
        return "unknown", None
    if handler.cpu != x.cpu:
        return "PT_WRONG_CPU", None
    return "ok", handler


def deliver(m: ReferenceModel, cpu: Cpu, x: Ec, event: int, cls: int | None) -> None:
    """B24 Ec::send_msg from current EC ``x`` (predicted): EVENT_DELIVERY + rendezvous / help, or a kill."""
    what, handler = handler_of(m, x, event)
    if what == "unknown" or (handler is not None and handler.cont is None):
        x.cont = None
        cpu.learning = True
        return
    if handler is None:
        kill(m, cpu, x, KillReason[what])
        return
    x.event_no = event
    m.emit(cpu.n, Kind.EVENT_DELIVERY, [event, handler, None if cls is None else int(cls), x.evt + event, 0], ec=x)
    send(m, cpu, x, handler)


def send(m: ReferenceModel, cpu: Cpu, x: Ec, handler: Ec) -> None:
    """The IPC part of send_msg: rendezvous with an idle handler, abort on a dead one, else help."""
    x.event_wait = True
    if handler.cont == Cont.IDLE:
        rendezvous(m, cpu, x, handler, event=True)
    elif handler.cont == Cont.DEAD:
        kill(m, cpu, x, KillReason.IPC_ABORT)
    elif handler.cont is None:
        x.cont = None
        cpu.learning = True
    else:
        help_(m, cpu, x, handler)


def event_delivery(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    """EVENT_DELIVERY: an expected one (STARTUP, retries) is an output; otherwise a semi-input whose handler
    the recording names (MODEL.md 8.3)."""
    from replay.reference import observe

    if observe.output(m, cpu, ev, unexpected_ok=True):
        return
    m.flush(cpu)
    cpu.learning = False
    m.action[cpu.n] = ev.i
    m.check_current(cpu, ev, ev.ec)
    x = cpu.ec
    observed = m.resolve(ev.a[1], ObjType.EC, ev)
    if not isinstance(x, Ec) or not isinstance(observed, Ec):
        cpu.learning = True
        return
    event, cls = ev.a[0], ev.a[2]
    surprising = False
    if cls == EventClass.RECALL:
        surprising = x.recall is False
        x.recall = False
    if cls == EventClass.STARTUP and x.cont not in (Cont.EVENT, None):
        surprising = True
    what, handler = handler_of(m, x, event)
    if what in ("PT_NOT_FOUND", "PT_WRONG_CPU"):
        surprising = True  # the kernel would have killed x instead
    if surprising:
        m.report(FindingCode.UNEXPECTED_EVENT, ev, x.id, detail=int(Kind.EVENT_DELIVERY))
    elif handler is not None and handler is not observed:
        m.report(FindingCode.WORD_MISMATCH, ev, x.id, handler.id, observed.id, 1)
    if x.evt is not None and ev.a[3] != x.evt + event:
        m.report(FindingCode.WORD_MISMATCH, ev, x.id, x.evt + event, ev.a[3], 3)
    x.event_no = event
    send(m, cpu, x, observed)  # follow the recording
    sched.end_action(m, cpu)
