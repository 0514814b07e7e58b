"""assign_int for both generations (MODEL.md 10.3; B24 sys_assign_int + Interrupt::configure/init;
nova-2026 order from domain.md 8.1.6, Arm part guessed - MODEL.md 13).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from replay.reference import hw
from replay.reference.calls import UNK, Call, finish_call, lookup, obj_of, valid
from replay.reference.irq import M, entry_of
from replay.reference.state import Cpu, Dc, Sm
from tracefmt.events import IrqKind
from tracefmt.nova import (
    ARM_BASE_LPI,
    X86_MSI_ADDR_BASE,
    X86_MSI_ADDR_IR,
    X86_VEC_GSI,
    FlagAssignInt2026,
    ObjType,
    PermDc,
    PermSm,
    SmSubtype,
    Status,
)

if TYPE_CHECKING:
    from replay.reference.model import ReferenceModel

S = Status


def assign_int(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    if m.gen2024:
        _assign_2024(m, cpu, call)
    elif m.x86:
        _assign_2026_x86(m, cpu, call)
    else:
        _assign_2026_arm(m, cpu, call)


def _forget(m: ReferenceModel, call: Call, e: Any, slot: tuple[int, int] | None = None) -> None:
    """assign_int failed where the model expected success: the interrupt's configuration is unknown."""
    if e is not None:
        e.cpu = e.flags = e.src = None
        e.masked = e.active = None
    if slot is not None:
        m.vectors[slot] = UNK


def _forget_all(m: ReferenceModel) -> None:
    """assign_int succeeded on a semaphore the model does not know: any interrupt may have been routed."""
    for e in m.irqs.values():
        e.cpu = e.flags = e.src = None
        e.masked = e.active = None
    m.vectors_complete = m.its_complete = False


def _sm(cap: Any) -> Sm | None:
    sm = obj_of(cap)
    return sm if isinstance(sm, Sm) else None


def _assign_2024(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    target, flags, dev = f["route_cpu"], f["flags"], f["dev"]
    v.need(target < len(m.cpus), S.BAD_CPU)
    cap = lookup(m, call, f["sm_sel"])
    v.need(valid(cap, ObjType.SM, PermSm.ASSIGN), S.BAD_CAP)
    e = entry_of(m, _sm(cap))
    status = v.done()
    if status == S.SUCCESS and e is not None:
        call.out1, call.out2 = _msi_2024(m, e.n, e.kind, target)
    finish_call(m, call, status)

    def commit(m: ReferenceModel, st: int) -> None:
        if st == S.SUCCESS and e is None:
            _forget_all(m)
        if st != S.SUCCESS or e is None:
            return
        e.cpu, e.src, e.flags = target, dev, flags
        e.masked = bool(flags & M) if e.kind != IrqKind.X86_MSI else False

    call.commit = commit
    call.forget = lambda m: _forget(m, call, e)


def _msi_2024(m: ReferenceModel, n: int, kind: IrqKind, target: int) -> tuple[int, int]:
    """B24 Interrupt::init: pins 0/0; MSI compatibility or remappable format; Arm 0/0."""
    if not m.x86 or kind == IrqKind.X86_PIN:
        return 0, 0
    if hw.remapping(m.platform):
        return X86_MSI_ADDR_IR, n
    return X86_MSI_ADDR_BASE | target << 12, X86_VEC_GSI + n  # apic_id = CPU number (MODEL.md 13)


def _dc(m: ReferenceModel, call: Call, v: Any) -> tuple[Any, Dc | None]:
    """The optional Device Context: null is allowed, anything else needs DC + ASSIGN_INT."""
    dcap = lookup(m, call, call.f["dc_sel"])
    if dcap is not None:
        v.need(valid(dcap, ObjType.DC, PermDc.ASSIGN_INT), S.BAD_CAP)
    dc = obj_of(dcap)
    return dcap, dc if isinstance(dc, Dc) else None


def _assign_2026_x86(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    attach = bool(f["op"] & FlagAssignInt2026.ATTACH)
    target, vec, cfg, idx = f["route_cpu"], f["vec"], f["cfg"], f["idx"]
    v.need(target < len(m.cpus), S.BAD_CPU)
    cap = lookup(m, call, f["sm_sel"])
    v.need(valid(cap, ObjType.SM, PermSm.ASSIGN, SmSubtype.INT), S.BAD_CAP)
    sm = _sm(cap)
    e = entry_of(m, sm)
    dcap, dc = _dc(m, call, v)
    v.need(vec < m.platform.x86.vectors_per_cpu, S.BAD_PAR)
    pin = None if e is None else e.kind == IrqKind.X86_PIN
    has_dc = None if dcap is UNK else dcap is not None
    v.need(None if pin is None or has_dc is None else pin != has_dc, S.BAD_CAP)
    ir = hw.remapping(m.platform)
    if ir and pin is False:
        v.need(idx < hw.IRT_ENTRIES, S.BAD_PAR)
    seg = None if sm is None or sm.irq is None else sm.irq >> 16
    src_seg = 0 if pin else (None if dc is None or dc.topo is None else (dc.topo >> 16) & 0xFFFF)
    v.need(None if seg is None or src_seg is None else seg == src_seg, S.BAD_DEV)
    if attach and not ir:
        v.need(target <= 0xFF, S.BAD_CPU)
    v.need(None if pin is None else (cfg & ~0x7 == 0 if pin else cfg == 0), S.BAD_PAR)
    if ir:
        v.need(hw.has_iommu(m.platform), S.BAD_DEV)
        if pin is False and e is not None and e.dc is not None:
            v.need(e.dc is dc and e.idx == idx, S.BAD_PAR)
    slot = m.vectors.get((target, vec), UNK if not m.vectors_complete else None)
    if slot is UNK or (sm is None and slot is not None):
        v.need(None, S.ABORTED)  # the slot, or the SM it is compared with, is unknown
    elif attach:
        v.need(slot is None or slot is sm, S.ABORTED)
    else:
        v.need(slot is not None and slot is sm, S.ABORTED)
    status = v.done()
    if status == S.SUCCESS:
        if attach and pin is None:
            call.out1, call.out2 = None, None  # pin or MSI decides the outputs: learned from the HC_EXIT
        elif not attach or pin:
            call.out1, call.out2 = 0, 0
        elif ir:
            call.out1, call.out2 = X86_MSI_ADDR_IR, (sm.irq & 0xFFFF) if sm and sm.irq is not None else None
        else:
            call.out1, call.out2 = X86_MSI_ADDR_BASE | target << 12, X86_VEC_GSI + vec
    finish_call(m, call, status)

    def commit(m: ReferenceModel, st: int) -> None:
        if st == S.SUCCESS and e is None:
            _forget_all(m)
        if st != S.SUCCESS or sm is None:
            return
        if attach:
            m.vectors[(target, vec)] = sm
            if e is not None:
                e.cpu, e.vec, e.flags, e.dc, e.idx, e.masked = target, vec, cfg, dc, idx, False
        else:
            m.vectors.pop((target, vec), None)
            if e is not None and e.cpu == target and e.vec == vec:
                e.cpu, e.vec, e.masked = -1, None, e.kind == IrqKind.X86_PIN

    call.commit = commit
    call.forget = lambda m: _forget(m, call, e, (target, vec))


def _assign_2026_arm(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    attach = bool(f["op"] & FlagAssignInt2026.ATTACH)
    target, cfg, idx = f["route_cpu"], f["cfg"], f["idx"]
    v.need(target < len(m.cpus), S.BAD_CPU)
    cap = lookup(m, call, f["sm_sel"])
    v.need(valid(cap, ObjType.SM, PermSm.ASSIGN, SmSubtype.INT), S.BAD_CAP)
    sm = _sm(cap)
    e = entry_of(m, sm)
    dcap, dc = _dc(m, call, v)
    lpi = None if sm is None or sm.irq is None else sm.irq >= ARM_BASE_LPI
    has_dc = None if dcap is UNK else dcap is not None
    v.need(None if lpi is None or has_dc is None else lpi == has_dc, S.BAD_CAP)
    its, did = None, None
    if lpi:
        its = hw.its_at(m.platform, dc.intr) if dc is not None and dc.intr is not None else None
        v.need(None if dc is None or dc.intr is None else its is not None, S.BAD_DEV)
        did = None if dc is None or dc.topo is None else dc.topo >> 32
        if its is not None and did is not None:
            v.need(did < 1 << its.device_id_bits and idx < 1 << its.event_id_bits, S.BAD_PAR)
    v.need(None if lpi is None else (cfg == 0 if lpi else cfg & ~0x3 == 0), S.BAD_PAR)
    if lpi and did is not None:
        mapped = m.its.get((did, idx))
        unknown = mapped is None and not m.its_complete
        if attach:
            v.need(None if unknown else (mapped is None or mapped[0] == sm.irq), S.ABORTED)
        else:
            v.need(None if unknown else (mapped is not None and mapped[0] == sm.irq), S.ABORTED)
    status = v.done()
    if status == S.SUCCESS:
        if lpi and attach and its is not None:
            call.out1, call.out2 = its.base + hw.ITS_TRANSLATER, idx
        elif lpi is not None:
            call.out1, call.out2 = (0, 0) if not lpi or not attach else (None, None)
    finish_call(m, call, status)

    def commit(m: ReferenceModel, st: int) -> None:
        if st == S.SUCCESS and e is None:
            _forget_all(m)
        if st != S.SUCCESS or sm is None or e is None:
            return
        if lpi and did is not None:
            if attach:
                m.its[(did, idx)] = (sm.irq, target)
            else:
                m.its.pop((did, idx), None)
        if attach:
            e.cpu, e.flags, e.dc, e.idx = target, cfg, dc, idx
            e.masked = bool(cfg & M) if not lpi else False
        else:
            e.cpu, e.masked = -1, True

    call.commit = commit
    call.forget = lambda m: _forget(m, call, e)
