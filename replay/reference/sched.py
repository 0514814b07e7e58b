"""Scheduling (MODEL.md section 9; B24 src/scheduler.cpp, Ec::activate): ready and release queues, the
end of every kernel action, and what an EC does when it is made current (its continuation, MODEL.md 8.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from replay.reference.state import BLOCKED_CONTS, Cont, Cpu, Ec, Sc
from tracefmt.events import Kind, SwitchReason
from tracefmt.nova import Ipi

if TYPE_CHECKING:
    from replay.reference.model import Ev, ReferenceModel

_MAX_STEPS = 64  # bound on switch/resume rounds of one action (a corrupt state must not loop)


@dataclass(eq=False)
class Switch:
    """What a predicted SCHED_SWITCH did, so that a different recorded switch can be adopted."""

    from_ec: Ec | None
    from_sc: Sc | None
    to_ec: Ec
    to_sc: Sc
    reason: int
    parks: list[tuple[Sc, Ec]] = field(default_factory=list)


def ts_now(m: ReferenceModel) -> int:
    return m.ev.ts if m.ev is not None else 0


def enqueue(m: ReferenceModel, cpu: Cpu, sc: Sc, ts: int) -> None:
    """B24 Ready::enqueue: head if budget is left, else tail; SCHED hazard; refill."""
    if sc.prio is None:
        sc.state = "ready"
        cpu.ready_complete = False
        return
    cpu.unready(sc)
    level = cpu.ready[sc.prio]
    if sc.left:
        level.insert(0, sc)
    else:
        level.append(sc)
    cur = cpu.sc
    if (
        cur is not None
        and cur.prio is not None
        and (sc.prio > cur.prio or (sc is not cur and sc.prio == cur.prio and sc.left))
    ):
        cpu.resched = True
    if not sc.left:
        sc.left = sc.budget
    sc.state = "ready"


def unblock(m: ReferenceModel, c: int, sc: Sc) -> None:
    """B24 Scheduler::unblock from CPU c: local enqueue, or remote release queue + RRQ if it was empty."""
    if sc.cpu is None or not 0 <= sc.cpu < len(m.cpus):
        sc.state = None
        m.cpus[c].learning = True  # where it goes (a local enqueue or an RRQ) is learned (MODEL.md 3.2)
        return
    if sc.cpu == c:
        enqueue(m, m.cpus[c], sc, ts_now(m))
        return
    target = m.cpus[sc.cpu]
    empty = not target.release
    target.release.append(sc)
    sc.state = "release"
    if empty:
        m.emit(c, Kind.IPI_SEND, [sc.cpu, int(Ipi.RRQ), 0, 0, 0], optional=not target.release_complete)


def ipi_recv(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    """IPI_RECV: RRQ drains the release queue (B24 Scheduler::requeue); RKE only re-checks hazards."""
    if ev.a[1] == Ipi.RRQ:
        if not cpu.release_complete:
            cpu.ready_complete = False
        for sc in cpu.release:
            enqueue(m, cpu, sc, ev.ts)
        cpu.release.clear()
        cpu.release_complete = True
    end_action(m, cpu)


def chain_end(ec: Ec) -> tuple[Ec | None, int]:
    """B24 Ec::activate: follow callee links; (None, 0) if a link is unknown."""
    n = 0
    seen = {id(ec)}
    while True:
        if not ec.links_known:
            return None, 0
        if ec.callee is None:
            return ec, n
        ec = ec.callee
        n += 1
        if id(ec) in seen:
            return None, 0
        seen.add(id(ec))


def leave(m: ReferenceModel, sc: Sc) -> None:
    """Budget accounting when ``sc`` stops being current (MODEL.md 9: left reaches 0 only by TIMEOUT)."""
    if sc.left and sc.since is not None:
        sc.left = max(1, sc.left - max(0, ts_now(m) - sc.since))


def unknown_schedule(cpu: Cpu) -> None:
    """The CPU schedules but the model cannot tell the outcome: learn it from the next switch."""
    cpu.ec = cpu.sc = None
    cpu.resched = False
    cpu.drop = False
    cpu.awaiting = False
    cpu.ready_complete = False


def schedule(m: ReferenceModel, cpu: Cpu, blocked: bool, reason: int) -> None:
    """B24 Scheduler::schedule: re-enqueue the current SC unless blocked, pick, park on blocked chains."""
    cur_sc, cur_ec = cpu.sc, cpu.ec
    if cur_sc is None or cur_ec is None or not cpu.ready_complete:
        unknown_schedule(cpu)
        return
    leave(m, cur_sc)
    cpu.resched = False
    cpu.drop = False
    if not blocked:
        cur_sc.state = None
        enqueue(m, cpu, cur_sc, ts_now(m))
        cpu.resched = False
    parks: list[tuple[Sc, Ec]] = []
    while True:
        sc = cpu.top_ready()
        if sc is None:
            unknown_schedule(cpu)
            return
        end, n = chain_end(sc.ec) if sc.ec is not None else (None, 0)
        if end is None or end.cont is None:
            unknown_schedule(cpu)
            return
        cpu.unready(sc)
        if end.cont in BLOCKED_CONTS:
            end.parked.append(sc)
            sc.state = "parked"
            parks.append((sc, end))
            continue
        break
    if reason == SwitchReason.PREEMPT and cur_sc is cpu.idle_sc:
        reason = SwitchReason.WAKE
    if sc is cur_sc and not blocked and sc.prio is not None and cpu.ready[sc.prio]:
        # the current SC stays only if its budget had not run out at that very moment - a kernel-internal
        # clock reading the trace does not have: a switch to an SC of the same priority is learned
        cpu.learning = True
    switch_to(m, cpu, sc, end, reason, parks)
    cpu.donations = n


def switch_to(m: ReferenceModel, cpu: Cpu, sc: Sc, ec: Ec, reason: int, parks: list | None = None) -> None:
    """Make (sc, ec) current on cpu and expect the SCHED_SWITCH (none if nothing changes)."""
    if sc is None:  # the SC is unknown: the recorded switch teaches it
        cpu.ec = ec
        cpu.learning = True
        return
    if cpu.sc is not sc and cpu.sc is not None and cpu.sc.state == "current":
        leave(m, cpu.sc)
        cpu.sc.state = None
    if sc is not cpu.sc or ec is not cpu.ec:
        info = Switch(cpu.ec, cpu.sc, ec, sc, int(reason), parks or [])
        m.emit(cpu.n, Kind.SCHED_SWITCH, [cpu.ec, ec, cpu.sc, sc, int(reason)], ref=info)
        cpu.awaiting = Kind.SCHED_SWITCH in m.recorded  # the new EC resumes once the switch is seen (MODEL.md 2.2)
    if sc is not cpu.sc:
        sc.since = ts_now(m)
    cpu.sc, cpu.ec = sc, ec
    sc.state = "current"
    if ec.cpu is None:
        ec.cpu = cpu.n


def revert(m: ReferenceModel, cpu: Cpu, info: Switch | None) -> None:
    """Undo a predicted switch that will not be matched: the recorded switch, if any, is learned later."""
    if info is None or info.from_ec is None or info.from_sc is None:
        cpu.ec = cpu.sc = None
        cpu.ready_complete = False
        return
    if info.to_sc is not info.from_sc:
        for sc, ec in info.parks:
            if sc in ec.parked:
                ec.parked.remove(sc)
            enqueue(m, cpu, sc, ts_now(m))
        info.to_sc.state = None
        enqueue(m, cpu, info.to_sc, ts_now(m))
        cpu.unready(info.from_sc)
        if info.from_sc in info.from_ec.parked:
            info.from_ec.parked.remove(info.from_sc)
        info.from_sc.state = "current"
    cpu.ec, cpu.sc = info.from_ec, info.from_sc
    cpu.resched = False


def end_action(m: ReferenceModel, cpu: Cpu, reason: int | None = None) -> None:
    """Return to user on cpu: reschedule if the current EC blocked or a hazard is pending, then resume."""
    from replay.reference import ipc

    for _ in range(_MAX_STEPS):
        if cpu.awaiting:
            return
        if cpu.ec is None or cpu.sc is None:
            cpu.drop = cpu.resched = False
            return
        if cpu.drop:
            schedule(m, cpu, True, SwitchReason.BLOCK if reason is None else reason)
        elif cpu.resched:
            schedule(m, cpu, False, SwitchReason.PREEMPT if reason is None else reason)
        if cpu.awaiting:
            return
        reason = None
        ec = cpu.ec
        if ec is None:
            return
        if ec.cont == Cont.EXIT:
            ec.cont = Cont.USER
            if ec.call is not None:
                ec.call.expect_exit(m, cpu)
            return
        if ec.cont == Cont.RECV:
            ec.cont = Cont.USER
            return
        if ec.cont == Cont.RETRY:
            ipc.retry(m, cpu, ec)
            continue
        if ec.cont == Cont.EVENT:
            ipc.deliver_pending_event(m, cpu, ec)
            continue
        if ec.cont == Cont.DEAD:
            ipc.kill(m, cpu, ec, None)
            continue
        if ec.cont in BLOCKED_CONTS and not cpu.drop:
            cpu.drop = True  # a blocked EC cannot run: its SC parks (B24 Ec::activate)
            ec.parked.append(cpu.sc)
            cpu.sc.state = "parked"
            continue
        return


def park_current(m: ReferenceModel, cpu: Cpu, ec: Ec) -> None:
    """B24 Ec::block_sc: the current SC is parked on ``ec`` and leaves the CPU at the end of the action."""
    if cpu.sc is not None:
        ec.parked.append(cpu.sc)
        cpu.sc.state = "parked"
    cpu.drop = True


def unblock_parked(m: ReferenceModel, c: int, ec: Ec) -> None:
    """B24 Ec::unblock_sc: every SC parked on ``ec`` goes back to the scheduler (from CPU c)."""
    scs, ec.parked = ec.parked, []
    for sc in scs:
        unblock(m, c, sc)
