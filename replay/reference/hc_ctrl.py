"""ctrl_pd (delegation), ctrl_ec, ctrl_sc, ctrl_pt, ctrl_hw, assign_dev, reserved (MODEL.md 5, 6.2;
B24 src/syscall.cpp, src/space_obj.cpp, src/space_mem.cpp, src/x86_64/space_pio.cpp, space_msr.cpp).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from replay.reference import hw
from replay.reference.calls import UNK, Call, finish_call, lookup, obj_of, valid
from replay.reference.state import Cap, Cpu, Dc, Ec, Pt, Sc, Space
from tracefmt.events import Kind
from tracefmt.nova import SELNUM, CtrlHwOp, Ipi, ObjType, PdSubtype, PermDc, PermEc, PermPt, PermSc, PermSp, Status

if TYPE_CHECKING:
    from replay.reference.model import ReferenceModel

S = Status


def _take_grant(src: Any, dst: Any) -> bool | None:
    """B24 Capability::validate_take_grant: TAKE on the source, GRANT on the destination, both PD-type."""
    for cap, bit in ((src, PermSp.TAKE), (dst, PermSp.GRANT)):
        if cap is None:
            return False
        if cap is not UNK and cap.perms is not None and not cap.perms & bit:
            return False
    if src is UNK or dst is UNK or src.perms is None or dst.perms is None:
        return None
    return src.obj.type == ObjType.PD and dst.obj.type == ObjType.PD


def _mad_valid(m: ReferenceModel, mad: int) -> bool | None:
    """Memattr::valid (B24 inc/*/memattr.hpp) of p4 as a 32-bit value; x86 key ids depend on the CPU."""
    mad &= 0xFFFFFFFF
    if m.x86:
        if (mad & 0x7) >= 5:
            return False
        return True if (mad >> 3) & 0x7FFF == 0 else None
    return (mad >> 3) & 0x3 != 1 and (mad & 0x7) != 4


def ctrl_pd(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    ssb, dsb, order, pmm = f["ssb"], f["dsb"], f["ord"], f["pmm"]
    size = 1 << order
    v.need(((ssb | dsb) & (size - 1)) == 0, S.BAD_PAR)
    src, dst = lookup(m, call, f["src_sel"]), lookup(m, call, f["dst_sel"])
    tg = _take_grant(src, dst)
    v.need(tg, S.BAD_CAP)
    st = src.obj.subtype if isinstance(src, Cap) else None
    dt = dst.obj.subtype if isinstance(dst, Cap) else None
    effect = None
    if v.status is not None:
        pass
    elif st is None or dt is None:
        v.need(None, S.BAD_PAR)
        v.need(None, S.BAD_CAP)
        v.may(S.MEM_CAP)
        effect = _forget_dst(dst, dsb, size)
    elif st == PdSubtype.HST:
        if src.obj.kernel:
            v.need(_mad_valid(m, f["mad"]), S.BAD_PAR)
        if dt in (PdSubtype.HST, PdSubtype.GST, PdSubtype.DMA):
            name = {PdSubtype.HST: "HST", PdSubtype.GST: "GST", PdSubtype.DMA: "DMA"}[dt]
            ok = ssb + size <= hw.mem_selectors(m.platform, "HST") and dsb + size <= hw.mem_selectors(m.platform, name)
            v.need(ok, S.BAD_PAR)
            v.may(S.MEM_CAP)
        else:
            v.need(False, S.BAD_CAP)
    elif st == PdSubtype.OBJ and dt == PdSubtype.OBJ:
        v.need(ssb + size <= SELNUM and dsb + size <= SELNUM, S.BAD_PAR)
        v.may(S.MEM_CAP)
        effect = _delegate(src.obj, dst.obj, ssb, dsb, size, pmm)
    elif st == dt == PdSubtype.PIO:
        v.need(ssb == dsb and ssb + size - 1 < hw.PIO_SELECTORS, S.BAD_PAR)
    elif st == dt == PdSubtype.MSR:
        v.need(ssb == dsb and hw.msr_valid(ssb + size - 1), S.BAD_PAR)
    else:
        v.need(False, S.BAD_CAP)
    finish_call(m, call, v.done())

    def commit(m: ReferenceModel, status: int) -> None:
        if effect is not None and status in (S.SUCCESS, S.MEM_CAP):
            effect(status)

    call.commit = commit
    call.forget = lambda m: _forget_dst(dst, dsb, size)(S.MEM_CAP)


def _delegate(src: Space, dst: Space, ssb: int, dsb: int, size: int, pmm: int):
    """B24 Space_obj::delegate: each destination slot := (source object, source perms & pmm)."""

    def apply(status: int) -> None:
        if status == S.MEM_CAP:  # stopped part-way: which slots were written is unknown
            dst.forget_range(dsb, dsb + size)
            return
        for i in range(size):
            cap = src.lookup(ssb + i)
            if cap is UNK:
                dst.store(dsb + i, UNK)
            elif cap is None:
                dst.store(dsb + i, None)
            else:
                dst.store(dsb + i, Cap(cap.obj, None if cap.perms is None else cap.perms & pmm))

    return apply


def _forget_dst(dst: Any, dsb: int, size: int):
    def apply(_status: int) -> None:
        if isinstance(dst, Cap) and isinstance(dst.obj, Space) and dst.obj.subtype == PdSubtype.OBJ:
            dst.obj.forget_range(dsb, min(dsb + size, SELNUM))

    return apply


def ctrl_ec(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    """B24 sys_ctrl_ec: recall hazard; RKE to a remote CPU where the EC is current (strong: always)."""
    v = call.v
    cap = lookup(m, call, call.f["ec_sel"])
    v.need(valid(cap, ObjType.EC, PermEc.CTRL), S.BAD_CAP)
    ec = obj_of(cap)
    ec = ec if isinstance(ec, Ec) else None
    status = v.done()
    strong = bool(call.f["flags"] & 1)
    if status == S.SUCCESS and ec is not None and ec.cpu is not None and ec.cpu != cpu.n:
        target = m.cpus[ec.cpu] if ec.cpu < len(m.cpus) else None
        current = None if target is None or target.ec is None else target.ec is ec
        send = current if strong else (None if ec.recall is None else (not ec.recall and current))
        if send is not False:
            m.emit(cpu.n, Kind.IPI_SEND, [ec.cpu, int(Ipi.RKE), 0, 0, 0], optional=send is None)
    finish_call(m, call, status)

    def commit(m: ReferenceModel, st: int) -> None:
        if st == S.SUCCESS and ec is not None:
            ec.recall = True

    def forget(m: ReferenceModel) -> None:
        if ec is not None:
            ec.recall = None

    call.commit, call.forget = commit, forget


def ctrl_sc(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v = call.v
    cap = lookup(m, call, call.f["sc_sel"])
    v.need(valid(cap, ObjType.SC, PermSc.CTRL), S.BAD_CAP)
    sc = obj_of(cap)
    finish_call(m, call, v.done())

    def commit(m: ReferenceModel, st: int) -> None:
        pass

    call.commit = commit
    call.used_sc = sc if isinstance(sc, Sc) else None  # checked at HC_EXIT: consumed time never decreases


def ctrl_pt(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    cap = lookup(m, call, f["pt_sel"])
    v.need(valid(cap, ObjType.PT, PermPt.CTRL), S.BAD_CAP)
    pt = obj_of(cap)
    finish_call(m, call, v.done())

    def commit(m: ReferenceModel, st: int) -> None:
        if st == S.SUCCESS and isinstance(pt, Pt):
            pt.pid, pt.mtd = f["pid"], f["mtd"]

    def forget(m: ReferenceModel) -> None:
        if isinstance(pt, Pt):
            pt.pid = pt.mtd = None

    call.commit, call.forget = commit, forget


def _is_root(m: ReferenceModel, call: Call) -> bool | None:
    root = m.root_pd.obj if m.root_pd is not None else None
    if call.ec.space is None or root is None:
        return None
    return call.ec.space is root


def ctrl_hw(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, op = call.v, call.f["op"]
    v.need(_is_root(m, call), S.BAD_HYP)
    v.need(op in (CtrlHwOp.SLEEP, CtrlHwOp.QOS, CtrlHwOp.L3_MASK, CtrlHwOp.L2_MASK, CtrlHwOp.MBA), S.BAD_PAR)
    if op == CtrlHwOp.SLEEP:
        v.may(S.BAD_FTR, S.ABORTED)  # ACPI support and concurrent transitions: hardware
    elif m.x86:
        v.may(S.BAD_PAR, S.ABORTED, S.BAD_FTR)  # Cos::cfg_* depend on the CPU's RDT features
    else:
        v.need(False, S.BAD_FTR)
    finish_call(m, call, v.done())

    def commit(m: ReferenceModel, st: int) -> None:
        if st == S.SUCCESS and op == CtrlHwOp.QOS:
            m.qos_configured = True

    call.commit = commit


def assign_dev(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    if m.gen2024:
        _assign_dev_2024(m, cpu, call)
    else:
        _assign_dev_2026(m, cpu, call)


def _assign_dev_2024(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    v.need(_is_root(m, call), S.BAD_HYP)
    cap = lookup(m, call, f["dma_sel"])
    v.need(valid(cap, ObjType.PD, PermSp.ASSIGN, PdSubtype.DMA), S.BAD_CAP)
    smmu = f["smmu_page"] << 12
    v.need(hw.smmu_at(m.platform, smmu), S.BAD_DEV)
    if m.x86:
        v.may(S.BAD_PAR)  # only if the DMA page-table root cannot be allocated
    else:
        v.may(S.BAD_PAR)  # SMMUv2 stream/group/context limits are not in the platform description
    finish_call(m, call, v.done())
    dma = obj_of(cap)

    def commit(m: ReferenceModel, st: int) -> None:
        if st == S.SUCCESS:
            m.devices[(smmu, f["dad"])] = dma

    call.commit = commit


def _assign_dev_2026(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    dcap = lookup(m, call, f["dc_sel"])
    v.need(valid(dcap, ObjType.DC, PermDc.ASSIGN_DEV), S.BAD_CAP)
    old, new = lookup(m, call, f["dma_old_sel"]), lookup(m, call, f["dma_new_sel"])
    v.need(None if UNK in (old, new) else (old is not None or new is not None), S.BAD_CAP)
    for cap in (old, new):
        if cap is not None:
            v.need(valid(cap, ObjType.PD, PermSp.ASSIGN, PdSubtype.DMA), S.BAD_CAP)
    dc = obj_of(dcap)
    dc = dc if isinstance(dc, Dc) else None
    v.need(None if dc is None or dc.dmar is None else hw.smmu_at(m.platform, dc.dmar), S.BAD_DEV)
    v.may(S.BAD_PAR, S.MEM_OBJ)  # IOMMU backend limits (Arm SMMUv3 stream table)
    finish_call(m, call, v.done())

    def commit(m: ReferenceModel, st: int) -> None:
        if st == S.SUCCESS and dc is not None:
            dc.dma = new.obj if isinstance(new, Cap) else None
            dc.dma_known = new is not UNK

    call.commit = commit


def reserved(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    call.v.need(False, S.BAD_HYP)
    finish_call(m, call, call.v.done())
