"""The canonical snapshot of the model's kernel state (MODEL.md 1.3): JSON-able, ids as ints, sorted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from replay.reference.state import NULL, UNK, Cap, Dc, Ec, Obj, Pd, Pt, Sc, Sm, Space
from tracefmt.events import IrqKind
from tracefmt.nova import EcSubtype, ObjType, PdSubtype, SmSubtype

if TYPE_CHECKING:
    from replay.reference.model import ReferenceModel


def _id(o: Obj | None, known: bool = True) -> int | None:
    if not known:
        return None
    return 0 if o is None else o.id


def _subtype(o: Obj) -> str | None:
    if o.subtype is None:
        return None
    if o.type == ObjType.PD:
        return PdSubtype(o.subtype).name
    if o.type == ObjType.EC:
        return EcSubtype(o.subtype).name
    if o.type == ObjType.SM:
        return SmSubtype(o.subtype).name
    return None


def _obj(o: Obj) -> dict[str, Any]:
    d: dict[str, Any] = {"id": o.id, "type": ObjType(o.type).name, "subtype": _subtype(o), "alive": o.alive}
    if isinstance(o, Pd):
        known = o.attach_known
        d.update(obj=_id(o.obj, known), hst=_id(o.hst, known), pio=_id(o.pio, known))
    elif isinstance(o, Space):
        d["pd"] = 0 if o.kernel else (None if o.pd is None else o.pd.id)
        if o.subtype == PdSubtype.OBJ:
            d["default_unknown"] = o.default_unknown
            d["unknown_ranges"] = sorted([lo, hi] for lo, hi in o.unknown_ranges)
    elif isinstance(o, Ec):
        call = o.call
        d.update(
            cpu=o.cpu,
            pd=None if o.pd is None else o.pd.id,
            evt=o.evt,
            cont=None if o.cont is None else o.cont.name,
            call=None if call is None else _hc_name(call.hc),
            call_status=None if call is None else call.status,
            caller=_id(o.caller, o.links_known),
            callee=_id(o.callee, o.links_known),
            blocked_on=_id(o.blocked_on),
            parked=[sc.id for sc in o.parked],
            timeout=o.timeout,
            recall=o.recall,
        )
    elif isinstance(o, Sc):
        d.update(cpu=o.cpu, ec=_id(o.ec), prio=o.prio, budget=o.budget, cos=o.cos, left=o.left, state=o.state)
    elif isinstance(o, Pt):
        d.update(ec=_id(o.ec), ip=o.ip, pid=o.pid, mtd=o.mtd)
    elif isinstance(o, Sm):
        d.update(counter=o.counter, waiters=[w.id for w in o.waiters], waiters_complete=o.waiters_complete, irq=o.irq)
    elif isinstance(o, Dc):
        d.update(topo=o.topo, dmar=o.dmar, intr=o.intr, dma=_id(o.dma, o.dma_known))
    return d


def _hc_name(hc: int) -> str:
    from tracefmt.nova import HC_NAMES

    return HC_NAMES.get(hc, str(hc))


def _caps(objs: list[Obj]) -> list[dict[str, Any]]:
    out = []
    for sp in objs:
        if not isinstance(sp, Space) or sp.subtype != PdSubtype.OBJ:
            continue
        for sel, v in sp.slots.items():
            if v is UNK:
                entry = {"obj": None, "perms": None}
            elif v is NULL:
                entry = {"obj": 0, "perms": 0}
            elif isinstance(v, Cap):
                entry = {"obj": v.obj.id, "perms": v.perms}
            else:
                continue
            out.append({"space": sp.id, "sel": sel, **entry})
    return sorted(out, key=lambda e: (e["space"], e["sel"]))


def _cpu(m: ReferenceModel, cpu: Any) -> dict[str, Any]:
    return {
        "cpu": cpu.n,
        "current_ec": None if cpu.ec is None else cpu.ec.id,
        "current_sc": None if cpu.sc is None else cpu.sc.id,
        "ready": [sc.id for sc in cpu.ready_ids()],
        "ready_complete": cpu.ready_complete,
        "release": [sc.id for sc in cpu.release],
        "release_complete": cpu.release_complete,
        "resched": cpu.resched,
        "awaiting_switch": cpu.awaiting,
        "switch_disputed": cpu.disputed,
        "donations": cpu.donations,
        "pending": [x.row() for x in cpu.pending],
    }


def _irq(e: Any) -> dict[str, Any]:
    return {
        "irq": e.n,
        "kind": IrqKind(e.kind).name,
        "sm": _id(e.sm),
        "cpu": e.cpu,
        "src": e.src,
        "flags": e.flags,
        "vec": e.vec,
        "dc": _id(e.dc),
        "idx": e.idx,
        "masked": e.masked,
        "active": e.active,
    }


def snapshot(m: ReferenceModel) -> dict[str, Any]:
    objs = sorted(m.reg.by_id.values(), key=lambda o: o.id)
    return {
        "model": {"api": m.api, "arch": m.arch, "cpus": len(m.cpus)},
        "position": {"events": m.events, "ts": m.last_ts},
        "knowledge": {"cold_start": m.cold, "losses": m.losses},
        "objects": [_obj(o) for o in objs],
        "caps": _caps(objs),
        "cpus": [_cpu(m, c) for c in m.cpus],
        "interrupts": [_irq(e) for _, e in sorted(m.irqs.items())],
        "vectors": [
            {"cpu": c, "vec": v, "sm": None if sm is UNK else sm.id} for (c, v), sm in sorted(m.vectors.items())
        ],
        "its": [{"did": d, "eid": e, "intid": i, "cpu": c} for (d, e), (i, c) in sorted(m.its.items())],
        "devices": [
            {"smmu": s, "dad": d, "dma": _id(dma)} for (s, d), dma in sorted(m.devices.items(), key=lambda kv: kv[0])
        ],
    }
