"""Cold start and recorder loss: which state becomes unknown (MODEL.md 3.3, 3.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from replay.reference.finding import severity_of
from replay.reference.state import UNK, Cap, Cont, Dc, Ec, Pd, Pt, Sc, Sm, Space
from tracefmt.findings import Explanation, FindingCode
from tracefmt.nova import PdSubtype, PermSm, PermSp

if TYPE_CHECKING:
    from replay.reference.model import Ev, ReferenceModel

HORIZON = 32  # inputs per CPU after a gap whose findings are explained by the loss (MODEL.md 3.6)


def cold_start(m: ReferenceModel, ev: Ev) -> None:
    """The trace starts mid-run: every piece of state is unknown until observed."""
    m.cold = True
    m.report(FindingCode.COLD_START, ev, expl=Explanation.TRACE_LOSS)
    for cpu in m.cpus:
        _forget_cpu(cpu)
    m.irqs_complete = m.vectors_complete = m.its_complete = False
    m.horizon = [HORIZON] * len(m.cpus)


def _forget_cpu(cpu) -> None:
    cpu.ec = cpu.sc = None
    for level in cpu.ready:
        for sc in level:
            sc.state = None
        level.clear()
    for sc in cpu.release:  # a lost RRQ may have drained it
        sc.state = None
    cpu.release.clear()
    cpu.ready_complete = cpu.release_complete = False
    cpu.donations = None
    cpu.pending.clear()
    cpu.resched = cpu.drop = cpu.awaiting = False
    cpu.learning = True


def gap(m: ReferenceModel, ev: Ev, count: int, since: int) -> None:
    """``count`` records of CPU ev.cpu were lost between time ``since`` and ``ev``."""
    c = ev.cpu
    m.horizon[c] = HORIZON
    _relabel(m, since)
    m.report(FindingCode.TRACE_GAP, ev, subject=count, expl=Explanation.TRACE_LOSS)
    m.epoch += 1
    m.losses += 1
    _forget_cpu(m.cpus[c])
    for cpu in m.cpus:
        cpu.release_complete = False
    ecs = [o for o in m.reg.by_id.values() if isinstance(o, Ec) and (o.cpu == c or o.cpu is None)]
    users = [ec for ec in ecs if ec.cont != Cont.KERNEL]  # idle ECs make no hypercalls
    for ec in users:
        ec.cont = None
        ec.call = None
        ec.timeout = None
        ec.links_known = False
        ec.recall = None
    for o in m.reg.by_id.values():
        if isinstance(o, Sc) and (o.cpu == c or o.cpu is None):
            o.state, o.left = None, None
        elif isinstance(o, Sm):
            o.counter = None
            o.waiters_complete = False
    spaces = _reachable_spaces(m, users)
    for sp in spaces:
        _forget_reach(m, sp)
        sp.forget()
    for e in m.irqs.values():
        if e.cpu == c or e.cpu is None:
            e.masked = e.active = None
    m.vectors_complete = m.its_complete = False


def _relabel(m: ReferenceModel, since: int) -> None:
    """Findings made while the lost records were missing are explained by the loss; their CPUs (whose
    state the stale knowledge may have bent) get a loss horizon too (MODEL.md 3.6)."""
    for k, f in enumerate(m.findings):
        lossy = f.explanation == Explanation.KERNEL or f.code == FindingCode.UNKNOWN_OBJECT
        if f.ts >= since and lossy:
            m.findings[k] = f._replace(
                explanation=int(Explanation.TRACE_LOSS), severity=severity_of(f.code, Explanation.TRACE_LOSS)
            )
            if 0 <= f.cpu < len(m.horizon):
                m.horizon[f.cpu] = HORIZON


def _reachable_spaces(m: ReferenceModel, ecs: list[Ec]) -> list[Space]:
    """OBJ spaces the ECs of the lost CPU could write: their own, and those they hold GRANT on."""
    own = []
    for ec in ecs:
        if ec.space is None:
            return [o for o in m.reg.by_id.values() if isinstance(o, Space) and o.subtype == PdSubtype.OBJ]
        if ec.space not in own:
            own.append(ec.space)
    out = list(own)
    for sp in own:
        for v in list(sp.slots.values()):
            grant = isinstance(v, Cap) and (v.perms is None or v.perms & PermSp.GRANT)
            if grant and isinstance(v.obj, Space) and v.obj.subtype == PdSubtype.OBJ and v.obj not in out:
                out.append(v.obj)
    return out


def _forget_reach(m: ReferenceModel, sp: Space) -> None:
    """Objects a lost hypercall could have reconfigured through capabilities in ``sp``."""
    for v in list(sp.slots.values()):
        if v is UNK or not isinstance(v, Cap):
            continue
        o = v.obj
        if isinstance(o, Pd):
            o.attach_known = False
        elif isinstance(o, Pt):
            o.pid = o.mtd = None
        elif isinstance(o, Ec):
            o.recall = None
        elif isinstance(o, Dc):
            o.dma_known = False
        elif isinstance(o, Sm) and (v.perms is None or v.perms & PermSm.ASSIGN):
            e = m.irqs.get(o.irq) if o.irq is not None else None
            if e is not None:
                e.cpu = e.flags = e.src = None
                e.masked = e.active = None
            for key, sm in list(m.vectors.items()):
                if sm is o:
                    m.vectors[key] = UNK
