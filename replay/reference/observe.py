"""Recorded outputs: matching against expectations, word checks, fixups and learning (MODEL.md 2.2-2.5, 3.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from replay.reference import calls, irq, sched
from replay.reference.expect import KEY, ORDER, Expect, find, first_difference, key_match, value, word_match
from replay.reference.state import BLOCKED_CONTS, UNK, Cap, Cont, Cpu, Ec, Pd, Sc, Sm, split_type
from tracefmt.events import IrqCause, Kind, SwitchReason, UpCause, WakeReason
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
        elif a[2] == 0:
            for stale in sm.waiters:
                _unknown_ec(m, stale)
            sm.waiters, sm.waiters_complete = [], True
        if a[4] >= 0 and a[4] in m.irqs and m.irqs[a[4]].sm is None:
            m.irqs[a[4]].sm = sm
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


# --- SCHED_SWITCH -------------------------------------------------------------------------------------------


def switch(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    to_ec, to_sc = ev.a[1], ev.a[3]
    j = find(cpu.pending, Kind.SCHED_SWITCH, ev.ec, ev.a, m.reg)
    if j < 0:
        _unexpected_switch(m, cpu, ev)
        return
    skip_before(m, cpu, j, ev)
    x = cpu.pending.popleft()
    info = x.ref
    cpu.awaiting = False
    disputed, cpu.disputed = cpu.disputed, False
    for i in ORDER[Kind.SCHED_SWITCH]:
        if word_match(x.words[i], ev.a[i], m.reg):
            continue
        if i in (0, 2) and disputed:
            continue  # the model's "from" came from a switch it already reported: no second finding
        if i == 3 and disputed and info is not None and info.from_sc is info.to_sc:
            obs = m.resolve(to_sc, ObjType.SC, ev)  # same-SC switch on an SC the model took from that switch
            if isinstance(obs, Sc):
                cpu.sc, obs.state = obs, "current"
                cpu.disputed = True
            continue
        if i in (1, 3) and info is None:  # an optional switch with nothing to undo (boot)
            m.report(FindingCode.WORD_MISMATCH, ev, to_sc, value(x.words[i]), ev.a[i], i, epoch=x.epoch)
            _adopt(m, cpu, ev, x)
            cpu.disputed = True
            return
        if i == 3:
            known = m.reg.get(to_sc)
            obs = m.resolve(to_sc, ObjType.SC, ev)
            if not isinstance(known, Sc) or known.cpu not in (cpu.n, None):
                # no SC of this CPU: a corrupt word rather than another choice - keep the model's pick
                m.report(FindingCode.WORD_MISMATCH, ev, to_sc, value(x.words[3]), to_sc, 3, epoch=x.epoch)
                break
            _other_pick(m, cpu, ev, x, info, obs if isinstance(obs, Sc) else None)
            return
        if i == 1:
            m.report(FindingCode.WORD_MISMATCH, ev, to_sc, value(x.words[1]), to_ec, 1, epoch=x.epoch)
            _adopt(m, cpu, ev, x)
            cpu.disputed = True
            return
        expl = Explanation.RECORDER if i == 4 else None
        m.report(FindingCode.WORD_MISMATCH, ev, to_sc, value(x.words[i]), ev.a[i], i, expl, x.epoch)
        break
    sched.end_action(m, cpu)  # the new EC resumes (its HC_EXIT, STARTUP, retried call ...)


def _other_pick(m: ReferenceModel, cpu: Cpu, ev: Ev, x: Expect, info: Any, obs: Sc | None) -> None:
    """The recorded switch chose another SC than the model (MODEL.md 3.5, 9)."""
    pick = info.to_sc
    ready = obs is not None and obs.cpu == cpu.n and obs.state == "ready"
    disputed = True
    if ready and obs.prio == pick.prio:
        disputed = False  # round-robin order within a priority is not enforced
    elif ready and obs.prio is not None and pick.prio is not None and obs.prio < pick.prio:
        m.report(FindingCode.SCHED_NOT_HIGHEST, ev, ev.a[3], pick.id, ev.a[3], epoch=x.epoch)
    else:
        m.report(FindingCode.WORD_MISMATCH, ev, ev.a[3], pick.id, ev.a[3], 3, epoch=x.epoch)
    if pick is not obs:
        for sc, ec in info.parks:
            if sc in ec.parked:
                ec.parked.remove(sc)
            sched.enqueue(m, cpu, sc, ev.ts)
        pick.state = None
        sched.enqueue(m, cpu, pick, ev.ts)
        cpu.resched = False
    _adopt(m, cpu, ev, x)
    cpu.disputed = disputed


def _adopt(m: ReferenceModel, cpu: Cpu, ev: Ev, x: Expect | None) -> None:
    """Make the recorded (to_ec, to_sc) current and let the EC continue (its HC_EXIT, handler ...)."""
    if x is not None:
        m.drop_action(cpu, x.action)
    sc = m.resolve(ev.a[3], ObjType.SC, ev)
    ec = m.resolve(ev.a[1], ObjType.EC, ev, cpu.n)
    if isinstance(sc, Sc):
        if not cpu.unready(sc) and sc.state not in ("current", None):
            cpu.ready_complete = False  # the model did not have it ready: its picture of this CPU was wrong
        if sc.cpu is None:
            sc.cpu = cpu.n
        sc.state, sc.since = "current", ev.ts
        if sc.left is None:
            sc.left = 1
    cpu.sc = sc if isinstance(sc, Sc) else None
    cpu.ec = ec if isinstance(ec, Ec) else None
    cpu.resched = cpu.drop = cpu.awaiting = False
    if isinstance(ec, Ec):
        if ec.cont in BLOCKED_CONTS or ec.cont == Cont.CALLING:
            ec.cont = None
        sched.end_action(m, cpu)


def _unexpected_switch(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    from_sc, to_sc, reason = ev.a[2], ev.a[3], ev.a[4]
    obs = m.resolve(to_sc, ObjType.SC, ev)
    top = cpu.top_ready()
    known = cpu.ec is not None and cpu.sc is not None and cpu.ready_complete
    lower = isinstance(obs, Sc) and top is not None and obs is not top and obs.prio is not None
    if known and lower and top.prio is not None and obs.prio < top.prio:
        m.report(FindingCode.SCHED_NOT_HIGHEST, ev, to_sc, top.id, to_sc)  # checked even while learning
    elif known and not cpu.learning:
        m.report(FindingCode.UNEXPECTED_EVENT, ev, to_sc, detail=int(Kind.SCHED_SWITCH))
    old = m.resolve(from_sc, ObjType.SC, ev) if from_sc != to_sc else None
    if isinstance(old, Sc) and old.state == "current":
        sched.leave(m, old)
        if reason in (SwitchReason.PREEMPT, SwitchReason.WAKE, SwitchReason.BUDGET) and old.prio is not None:
            old.state = None
            sched.enqueue(m, cpu, old, ev.ts)
        else:
            old.state = None
            cpu.ready_complete = False
    if from_sc == to_sc:
        _learn_links(m, cpu, ev)
    if isinstance(obs, Sc) and obs is cpu.idle_sc:
        for level in cpu.ready:
            for sc in level:
                sc.state = None
            level.clear()
        cpu.ready_complete = True
        for o in m.reg.by_id.values():
            if isinstance(o, Sc) and o.cpu == cpu.n and o.state is None and o is not obs:
                o.state = "off"
    _adopt(m, cpu, ev, None)


def _learn_links(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    """An unpredicted switch on one SC tells what IPC happened (MODEL.md 3.5)."""
    a, b = m.resolve(ev.a[0], ObjType.EC, ev, cpu.n), m.resolve(ev.a[1], ObjType.EC, ev, cpu.n)
    if not isinstance(a, Ec) or not isinstance(b, Ec):
        return
    reason = ev.a[4]
    if reason == SwitchReason.IPC_CALL:  # a called b (or sent it an event)
        a.callee, b.caller = b, a
        a.links_known = b.links_known = True
        a.event_wait = not (a.call is not None and a.call.hc == 0)
        a.cont, b.cont = Cont.CALLING, Cont.RECV
        if cpu.donations is not None:
            cpu.donations += 1
    elif reason == SwitchReason.IPC_REPLY:  # a replied (to b, if b was its caller)
        if a.caller is b or b.callee is a:
            a.caller, b.callee = None, None
            if cpu.donations is not None:
                cpu.donations -= 1
        a.cont = Cont.IDLE
        if b.cont in (Cont.CALLING, None):
            b.cont = Cont.EXIT if b.call is not None else Cont.USER
            if b.call is not None and b.call.status is None:
                b.call.decide(Status.SUCCESS)
    elif reason == SwitchReason.HELP:
        a.cont = Cont.RETRY
    elif reason == SwitchReason.KILL:
        a.cont = Cont.DEAD


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
