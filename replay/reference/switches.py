"""Recorded SCHED_SWITCH events: matching the predicted switch, adopting another choice, learning an
unpredicted one (MODEL.md 3.5, 9)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from replay.reference import sched
from replay.reference.expect import ORDER, Expect, find, value, word_match
from replay.reference.observe import skip_before
from replay.reference.state import BLOCKED_CONTS, Cont, Cpu, Ec, Sc
from tracefmt.events import Kind, SwitchReason
from tracefmt.findings import Explanation, FindingCode
from tracefmt.nova import ObjType, Status

if TYPE_CHECKING:
    from replay.reference.model import Ev, ReferenceModel


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
