"""Recorded outputs: matching against expectations, word checks, fixups and learning (MODEL.md 2.2-2.5, 3.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from replay.reference import calls, irq, sched
from replay.reference.expect import KEY, Expect, find, first_difference, key_match, value, word_match
from replay.reference.state import UNK, Cap, Cont, Cpu, Ec, Pd, Sc, Sm, split_type
from tracefmt.events import IrqCause, Kind, UpCause, WakeReason
from tracefmt.findings import Explanation, FindingCode
from tracefmt.nova import Ipi, ObjType, Status

if TYPE_CHECKING:
    from replay.reference.model import Ev, ReferenceModel

MAX = (1 << 64) - 1
_WORD_TYPES = {
    Kind.SM_UP: (ObjType.SM, None, ObjType.EC, None, None),
    Kind.SM_BLOCK: (ObjType.SM, None, ObjType.SC, None, None),
    Kind.EC_WAKE: (ObjType.EC, None, None, None, None),
    Kind.EC_KILL: (ObjType.EC, None, None, None, None),
}


def _tolerated(ev: Ev) -> bool:
    """Outputs the model never flags as unexpected (MODEL.md 2.5)."""
    k, a = ev.kind, ev.a
    if k == Kind.IPI_SEND and a[1] == Ipi.RKE:
        return True
    if k == Kind.EC_WAKE and a[1] not in (WakeReason.SM_UP, WakeReason.TIMEOUT):
        return True
    if k in (Kind.IRQ_MASK, Kind.IRQ_UNMASK, Kind.IRQ_EOI, Kind.IRQ_DEACTIVATE) and a[2] in (
        IrqCause.ASSIGN,
        IrqCause.KERNEL,
        IrqCause.GUEST,
    ):
        return True
    return k == Kind.EC_KILL  # kills the model cannot foresee (exceptions, illegal state) are semi-inputs


def skip_before(m: ReferenceModel, cpu: Cpu, j: int, ev: Ev, silent_action: int | None = None) -> None:
    """Entries before the matched one: optional ones vanish, required ones are missing (MODEL.md 2.2)."""
    for _ in range(j):
        x = cpu.pending.popleft()
        if x.optional or x.action == silent_action:
            continue
        missing(m, cpu, x, ev, flushed=False)


def missing(m: ReferenceModel, cpu: Cpu, x: Expect, ev: Ev | None, flushed: bool = True) -> None:
    """A required expectation that was not recorded."""
    if x.optional:
        return
    if x.kind == Kind.HC_EXIT:
        calls.missing_exit(m, x.ref, ev)
        return
    m.report(FindingCode.MISSING_EVENT, ev, x.subject(), -1, -1, x.kind, epoch=x.epoch)
    if x.kind == Kind.SCHED_SWITCH:
        cpu.awaiting = False
    if x.kind == Kind.SCHED_SWITCH and flushed:
        same_sc = x.ref is not None and x.ref.from_sc is x.ref.to_sc
        cpu.ec = None  # did the CPU switch or not? the next input's ec column tells
        if not same_sc:  # an IPC switch keeps the SC either way
            cpu.sc = None
            cpu.ready_complete = False
        m.drop_action(cpu, x.action)
    elif x.kind in (Kind.IRQ_MASK, Kind.IRQ_UNMASK, Kind.IRQ_DEACTIVATE):
        irq.forget(m, value(x.words[0]))


def output(m: ReferenceModel, cpu: Cpu, ev: Ev, unexpected_ok: bool = False) -> bool:
    """Match a recorded output; False if nothing matched and ``unexpected_ok`` (a semi-input)."""
    j = find(cpu.pending, ev.kind, ev.ec, ev.a, m.reg)
    if j < 0 and ev.kind == Kind.SM_UP and ev.a[3] == UpCause.CONSOLE:
        j = _console_up(m, cpu, ev)
    if j < 0:
        if unexpected_ok:
            return False
        if not (cpu.learning or _tolerated(ev)):
            m.report(FindingCode.UNEXPECTED_EVENT, ev, _subject(ev), detail=ev.kind)
        elif ev.kind == Kind.SM_UP:
            _check_woken(m, ev)
        learn(m, cpu, ev)
        return True
    skip_before(m, cpu, j, ev)
    x = cpu.pending.popleft()
    i = _compare(m, x, ev)
    if i < 0 and x.ec is not None and ev.ec not in (0, -1) and not key_match(x.ec, ev.ec, m.reg):
        m.report(FindingCode.CURRENT_EC_MISMATCH, ev, ev.ec, value(x.ec), ev.ec, 5, epoch=x.epoch)
    if i >= 0:
        expl = Explanation.RECORDER if i == 4 and ev.kind == Kind.SCHED_SWITCH else None
        m.report(FindingCode.WORD_MISMATCH, ev, _subject(ev), value(x.words[i]), ev.a[i], i, expl, x.epoch)
        fix(m, cpu, x, ev, i)
    elif ev.kind == Kind.SM_BLOCK and x.words[2] is None:
        _learn_block(m, cpu, ev)  # the model did not know the SC: the record says which one parks
    return True


def _console_up(m: ReferenceModel, cpu: Cpu, ev: Ev) -> int:
    """The kernel ups the console SM per line it writes (a semi-input): do the up, then match it."""
    from replay.reference import semaphores

    sm = m.resolve(ev.a[0], ObjType.SM, ev)
    if not isinstance(sm, Sm):
        return -1
    resched = cpu.resched
    rest, cpu.pending = cpu.pending, type(cpu.pending)()
    semaphores.up(m, cpu.n, sm, int(UpCause.CONSOLE), -1)
    made = len(cpu.pending)
    for x in cpu.pending:
        x.ec = None  # any kernel path may write a console line: whoever is current then
    cpu.pending.extend(rest)  # recorded now, before what the interrupted kernel path still owes
    if cpu.resched and not resched:
        cpu.learning = True  # the kernel path it interrupted decides when to switch
    return 0 if made else -1


def _compare(m: ReferenceModel, x: Expect, ev: Ev) -> int:
    key = KEY.get(x.kind)
    if isinstance(key, int) and not key_match(x.words[key], ev.a[key], m.reg):
        return key
    if x.kind == Kind.OBJ_CREATED and not word_match(x.words[0], ev.a[0], m.reg):
        return 0
    return first_difference(x, ev.a, m.reg)


def _subject(ev: Ev) -> int:
    if ev.kind == Kind.SCHED_SWITCH:
        return ev.a[3]
    key = KEY.get(ev.kind)
    return ev.ec if key == "ec" else ev.a[key if isinstance(key, int) else 0]


def fix(m: ReferenceModel, cpu: Cpu, x: Expect, ev: Ev, i: int) -> None:
    """Adopt the recorded output after a word mismatch (MODEL.md 3.5)."""
    k = ev.kind
    if k == Kind.SM_UP:
        sm = x.words[0] if isinstance(x.words[0], Sm) else None
        if i == 1 and sm is not None:
            if not isinstance(x.words[2], Ec):  # an up that wakes nobody: the recorded count is adopted
                sm.counter = MAX if ev.a[1] == -1 and ev.a[2] == 0 else ev.a[1] & MAX
            return  # an up that woke a waiter leaves the counter alone: the recorded word is implausible
        if i in (0, 2):
            exp_w = x.words[2]
            if isinstance(exp_w, Ec):
                _unknown_ec(m, exp_w)
            for sc in x.ref or ():  # the SCs the model released with the wrong EC: where they are is unknown
                _unqueue_sc(m, sc)
            if sm is not None:
                sm.waiters_complete = False
                sm.counter = None
            m.drop_action(cpu, x.action)
            cpu.learning = True  # the rest of this action follows the recording
            learn(m, cpu, ev)
    elif k == Kind.SM_BLOCK and i == 1:
        ec = m.reg.get(ev.ec)
        if isinstance(ec, Ec) and ec.cont == Cont.BLOCKED:
            ec.timeout = ev.a[1] & MAX  # the deadline the kernel armed
    elif k in (Kind.SM_BLOCK, Kind.EC_WAKE, Kind.EC_KILL, Kind.EVENT_DELIVERY):
        m.drop_action(cpu, x.action)
        cpu.learning = True
        learn(m, cpu, ev)
    elif k in (Kind.IRQ_MASK, Kind.IRQ_UNMASK, Kind.IRQ_EOI, Kind.IRQ_DEACTIVATE):
        irq.forget(m, value(x.words[0]))
        irq.forget(m, ev.a[0])


def _unqueue_sc(m: ReferenceModel, sc: Sc) -> None:
    if sc.cpu is not None and 0 <= sc.cpu < len(m.cpus):
        target = m.cpus[sc.cpu]
        target.unready(sc)
        if sc in target.release:
            target.release.remove(sc)
        target.ready_complete = target.release_complete = False
    sc.state = None


def _unknown_ec(m: ReferenceModel, ec: Ec) -> None:
    ec.cont = None
    if ec.cpu is not None:
        m.cpus[ec.cpu].ready_complete = False


def _check_woken(m: ReferenceModel, ev: Ev) -> None:
    """A learned SM_UP may wake only an EC that could wait on that SM: one the model knows blocked on
    another SM is a WORD_MISMATCH (woken); the SM's known waiters may then have been the one (MODEL.md 13)."""
    sm, w = m.reg.get(ev.a[0]), m.reg.get(ev.a[2]) if ev.a[2] else None
    if not isinstance(sm, Sm) or not isinstance(w, Ec) or w.cont != Cont.BLOCKED or w.blocked_on in (None, sm):
        return
    head = sm.waiters[0].id if sm.waiters else -1
    m.report(FindingCode.WORD_MISMATCH, ev, ev.a[0], head, ev.a[2], 2)
    for stale in sm.waiters:
        _fate_unknown(m, stale)
    sm.waiters, sm.waiters_complete, sm.counter = [], False, None
    if w in w.blocked_on.waiters:
        w.blocked_on.waiters.remove(w)
    w.blocked_on.waiters_complete = False


def _fate_unknown(m: ReferenceModel, ec: Ec) -> None:
    """A waiter that may or may not have been woken: it returns SUCCESS or TIMEOUT when it returns."""
    _unknown_ec(m, ec)
    ec.blocked_on = None
    if ec.call is not None and ec.call.status is None:
        ec.call.decide(Status.SUCCESS)
        ec.call.v.allowed |= 1 << int(Status.TIMEOUT)
    for sc in ec.parked:
        sc.state = None
        if sc.cpu is not None:
            m.cpus[sc.cpu].ready_complete = False
    ec.parked = []


def _expect_wake(m: ReferenceModel, cpu: Cpu, sm: Sm, w: Ec) -> None:
    """A learned up that woke W: the kernel records W's EC_WAKE next (semaphores.release), required."""
    if int(Kind.EC_WAKE) in m.recorded:
        words = [w, int(WakeReason.SM_UP), sm, w.cpu, 0]
        cpu.pending.appendleft(Expect(int(Kind.EC_WAKE), words, None, False, m.action[cpu.n], m.epoch))


def learn(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    """State an unexpected (or adopted) output reveals (MODEL.md 3.5)."""
    k, a = ev.kind, ev.a
    if k == Kind.SM_UP:
        sm = m.resolve(a[0], ObjType.SM, ev)
        if not isinstance(sm, Sm):
            return
        sm.counter = MAX if a[1] == -1 and a[2] == 0 else a[1] & MAX
        w = m.resolve(a[2], ObjType.EC, ev) if a[2] else None
        if isinstance(w, Ec):
            _released(m, sm, w, Status.SUCCESS)
            _expect_wake(m, cpu, sm, w)
        elif a[2] == 0:
            for stale in sm.waiters:
                _unknown_ec(m, stale)
            sm.waiters, sm.waiters_complete = [], True
        if a[3] == UpCause.INTERRUPT:
            irq.learn_sm(m, a[4], sm)
    elif k == Kind.SM_BLOCK:
        _learn_block(m, cpu, ev)
    elif k == Kind.EC_WAKE and a[1] in (WakeReason.SM_UP, WakeReason.TIMEOUT):
        w = m.resolve(a[0], ObjType.EC, ev)
        if isinstance(w, Ec) and w.cont in (Cont.BLOCKED, None):
            status = Status.SUCCESS if a[1] == WakeReason.SM_UP else Status.TIMEOUT
            _released(m, w.blocked_on, w, status)
    elif k in (Kind.IRQ_MASK, Kind.IRQ_UNMASK, Kind.IRQ_DEACTIVATE):
        irq.observed(m, k, a[0])
    elif k == Kind.EC_KILL:
        _learn_kill(m, cpu, ev)


def _released(m: ReferenceModel, sm: Sm | None, w: Ec, status: int) -> None:
    if sm is not None and w in sm.waiters:
        sm.waiters.remove(w)
    w.blocked_on = None
    w.cont = Cont.EXIT if w.call is not None else None
    if w.call is not None:
        w.call.decide(status)
    for sc in w.parked:
        sc.state = None
        if sc.cpu is not None:
            m.cpus[sc.cpu].ready_complete = False
    w.parked = []


def _learn_block(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    ec = m.resolve(ev.ec, ObjType.EC, ev, cpu.n)  # the blocked EC (the model may already have switched away)
    sm = m.resolve(ev.a[0], ObjType.SM, ev)
    sc = m.resolve(ev.a[2], ObjType.SC, ev)
    if not isinstance(ec, Ec) or not isinstance(sm, Sm):
        return
    if ec.blocked_on is not None and ec in ec.blocked_on.waiters:
        ec.blocked_on.waiters.remove(ec)
    sm.counter = 0
    if ec not in sm.waiters:
        sm.waiters.append(ec)
    ec.cont, ec.blocked_on = Cont.BLOCKED, sm
    ec.timeout, ec.timeout_sm = ev.a[1] & MAX, sm
    if ec.call is not None:
        ec.call.status = None
    if isinstance(sc, Sc) and sc not in ec.parked:
        ec.parked.append(sc)
        sc.state = "parked"


def _learn_kill(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    """A kill the model did not predict: apply NOVA's kill (reply with dead), learn the switch."""
    from replay.reference import ipc

    x = m.resolve(ev.a[0], ObjType.EC, ev)
    if not isinstance(x, Ec):
        return
    if x is cpu.ec and cpu.sc is not None and x.links_known and cpu.donations is not None and not cpu.learning:
        ipc.kill(m, cpu, x, ev.a[1])
        j = find(cpu.pending, Kind.EC_KILL, ev.ec, ev.a, m.reg)
        if j >= 0:
            del cpu.pending[j]
        sched.end_action(m, cpu)
        return
    x.cont = Cont.DEAD
    cpu.learning = True


# --- OBJ_CREATED --------------------------------------------------------------------------------------------


def obj_created(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    j = find(cpu.pending, Kind.OBJ_CREATED, ev.ec, ev.a, m.reg)
    if j >= 0:
        output(m, cpu, ev)
        return
    oid, typ, sel, owner, _detail = ev.a
    ts = split_type(typ)
    if ts is None or oid in (0, -1):
        m.report(FindingCode.BAD_RECORD, ev, oid, -1, typ, expl=Explanation.RECORDER)
        return
    obj = m.reg.get(oid)
    if obj is None:
        obj = m.placeholder(ts[0], oid, ts[1])
    elif obj.type != ts[0]:
        m.report(FindingCode.TYPE_MISMATCH, ev, oid, int(obj.type), int(ts[0]), expl=Explanation.INPUT)
        return
    if sel < 0:
        return
    space = m.nova if owner == 0 else None
    pd = m.reg.get(owner)
    if isinstance(pd, Pd):
        space = pd.obj
    if space is not None and space.lookup(sel) is UNK:
        space.store(sel, Cap(obj, None))
