"""Semaphores: ctrl_sm, up, down, hypercall and budget timeouts (MODEL.md 7, 9; B24 inc/sm.hpp)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from replay.reference import irq, sched
from replay.reference.calls import Call, finish_call, i64, lookup, obj_of, valid
from replay.reference.state import Cont, Cpu, Ec, Sc, Sm
from tracefmt.events import Kind, SwitchReason, TimeoutKind, UpCause, WakeReason
from tracefmt.findings import FindingCode
from tracefmt.nova import FlagCtrlSm, ObjType, PermSm, SmSubtype, Status

if TYPE_CHECKING:
    from replay.reference.model import Ev, ReferenceModel

MAX = (1 << 64) - 1


def up(m: ReferenceModel, c: int, sm: Sm, cause: int, irq_n: int = -1, optional_drop: bool = False) -> int | None:
    """Sm::up from CPU c; the expected SM_UP (+ wake outputs). SUCCESS, OVRFLOW, or None if unpredictable."""
    if sm.waiters and sm.waiters_complete:
        wake(m, c, sm, sm.waiters[0], cause, irq_n)
        return Status.SUCCESS
    if sm.waiters or not sm.waiters_complete or sm.counter is None:
        m.cpus[c].learning = True  # the recorded SM_UP teaches counter and waiter
        sm.counter, sm.waiters_complete = None, False
        return None
    if sm.counter == MAX:
        m.emit(c, Kind.SM_UP, [sm, -1, 0, cause, irq_n], optional=optional_drop)
        return Status.OVRFLOW
    sm.counter += 1
    m.emit(c, Kind.SM_UP, [sm, i64(sm.counter), 0, cause, irq_n])
    return Status.SUCCESS


def wake(m: ReferenceModel, c: int, sm: Sm, w: Ec, cause: int, irq_n: int) -> None:
    """The FIFO head W leaves the queue and will return SUCCESS; its parked SCs are unblocked."""
    m.emit(c, Kind.SM_UP, [sm, i64(sm.counter or 0), w, cause, irq_n], ref=list(w.parked))
    release(m, c, sm, w, WakeReason.SM_UP, Status.SUCCESS)


def release(m: ReferenceModel, c: int, sm: Sm | None, w: Ec, reason: int, status: int) -> None:
    if sm is not None and w in sm.waiters:
        sm.waiters.remove(w)
    w.blocked_on = None
    w.cont = Cont.EXIT
    if w.call is not None:
        w.call.decide(status)
    m.emit(c, Kind.EC_WAKE, [w, int(reason), sm, w.cpu, 0])
    sched.unblock_parked(m, c, w)


def down(m: ReferenceModel, cpu: Cpu, call: Call, sm: Sm, zero: bool, deadline: int) -> None:
    """Sm::dn: take a count, or block with the current SC parked on the EC."""
    ec = call.ec
    if sm.counter is None:
        call.v.may(Status.TIMEOUT)
        finish_call(m, call, Status.SUCCESS)
        ec.cont = None  # returns at once or blocks: the recording decides
        cpu.learning = True
        return
    if sm.counter > 0:
        sm.counter = 0 if zero else sm.counter - 1
        finish_call(m, call, Status.SUCCESS)
        return
    block(m, cpu, call, sm, deadline)


def block(m: ReferenceModel, cpu: Cpu, call: Call, sm: Sm, deadline: int) -> None:
    ec = call.ec
    m.emit(cpu.n, Kind.SM_BLOCK, [sm, i64(deadline), cpu.sc, 0, 0], ec=ec)
    call.status = None
    ec.call = call
    ec.cont = Cont.BLOCKED
    ec.blocked_on = sm
    sm.waiters.append(ec)
    ec.timeout, ec.timeout_sm = deadline, sm
    sched.park_current(m, cpu, ec)


def ctrl_sm(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    dn = bool(f["flags"] & FlagCtrlSm.D)
    cap = lookup(m, call, f["sm_sel"])
    v.need(valid(cap, ObjType.SM, PermSm.CTRL_DN if dn else PermSm.CTRL_UP), Status.BAD_CAP)
    sm = obj_of(cap)
    sm = sm if isinstance(sm, Sm) else None
    is_int = sm is not None and (sm.subtype == SmSubtype.INT or (sm.irq is not None and sm.irq >= 0))
    if dn and m.gen2024 and sm is None:
        v.need(None, Status.BAD_CPU)  # an unknown semaphore may be an interrupt SM routed elsewhere
    elif dn and is_int and m.gen2024:
        v.need(irq.routed_here(m, sm, cpu.n), Status.BAD_CPU)
    if sm is None:
        v.may(Status.TIMEOUT if dn else Status.OVRFLOW)
    primary = v.done()
    call.reconcile = lambda m, st: _forget(sm)
    if primary != Status.SUCCESS or sm is None:
        finish_call(m, call, primary)
        if sm is None and primary == Status.SUCCESS:
            call.ec.cont = None
            cpu.learning = True
            call.commit = _through_unknown_cap
        return
    if dn:
        if is_int:
            irq.acknowledge(m, cpu, sm)
        down(m, cpu, call, sm, bool(f["flags"] & FlagCtrlSm.Z), f["deadline"])
        return
    st = up(m, cpu.n, sm, UpCause.HYPERCALL, -1, optional_drop=True)
    if st is None:
        call.v.may(Status.OVRFLOW)
        st = Status.SUCCESS
    elif st == Status.OVRFLOW:
        call.v.status = int(Status.OVRFLOW)
        call.v.allowed = 1 << int(Status.OVRFLOW)
    finish_call(m, call, st)


def _through_unknown_cap(m: ReferenceModel, status: int) -> None:
    """An up/down through a capability the model does not know worked on *some* semaphore: every
    semaphore's count is unknown until observed again (MODEL.md 7)."""
    if status in (Status.SUCCESS, Status.TIMEOUT, Status.OVRFLOW):
        for o in m.reg.by_id.values():
            if isinstance(o, Sm):
                o.counter = None
                o.waiters_complete = False


def _forget(sm: Sm | None) -> None:
    """A recorded ctrl_sm status the model did not predict: the semaphore's state is unknown."""
    if sm is not None:
        sm.counter = None
        sm.waiters_complete = False


def timeout(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    kind, oid, deadline = ev.a[0], ev.a[1], ev.a[2]
    if kind == TimeoutKind.BUDGET:
        _budget(m, cpu, ev, oid)
        return
    w = m.resolve(oid, ObjType.EC, ev)
    if not isinstance(w, Ec):
        return
    if w.cont == Cont.BLOCKED and w.blocked_on is not None:
        if w.timeout == 0:
            if not cpu.learning:
                m.report(FindingCode.UNEXPECTED_EVENT, ev, w.id, detail=int(Kind.TIMEOUT))
        elif w.timeout is not None and i64(w.timeout) != deadline:
            m.report(FindingCode.WORD_MISMATCH, ev, w.id, i64(w.timeout), deadline, 2)
        elif ev.ts < deadline:
            m.report(FindingCode.EARLY_TIMEOUT, ev, w.id, deadline, ev.ts)
        release(m, cpu.n, w.blocked_on, w, WakeReason.TIMEOUT, Status.TIMEOUT)
    elif w.cont is not None and w.timeout == 0 and not cpu.learning:
        m.report(FindingCode.UNEXPECTED_EVENT, ev, w.id, detail=int(Kind.TIMEOUT))
    elif w.cont is None or w.timeout is None:
        cpu.learning = True  # W's state is unknown: what the timer did is learned from the recording
    # else: the timer raced with an up that already released W (Sm::timeout does nothing)
    sched.end_action(m, cpu)


def _budget(m: ReferenceModel, cpu: Cpu, ev: Ev, oid: int) -> None:
    sc = m.resolve(oid, ObjType.SC, ev)
    if not isinstance(sc, Sc):
        return
    if cpu.sc is not None and sc is not cpu.sc:
        if not cpu.learning:
            m.report(FindingCode.UNEXPECTED_EVENT, ev, sc.id, cpu.sc.id, sc.id, int(Kind.TIMEOUT))
        return
    sc.left = 0
    cpu.resched = True
    sched.end_action(m, cpu, SwitchReason.BUDGET)
