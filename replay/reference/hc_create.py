"""create_pd, create_ec, create_sc, create_pt, create_sm, create_dc (MODEL.md 6.2; B24 src/syscall.cpp,
src/pd.cpp). The object is made when the HC_EXIT shows SUCCESS (create_sc: at entry, it is scheduled at once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from replay.reference import hw, irq, sched
from replay.reference.boot import budget_ticks, defined_perms
from replay.reference.calls import Call, both, finish_call, lookup, obj_of, slot_free, valid
from replay.reference.state import UNK, Cap, Cont, Cpu, Dc, Ec, Obj, Pd, Pt, Sc, Sm, Space
from tracefmt.events import Kind
from tracefmt.nova import (
    SEL_MASK,
    CreatePdOp,
    EcSubtype,
    FlagCreateEc,
    FlagCreateSm2026,
    ObjType,
    PdSubtype,
    PermEc,
    PermPd,
    SmSubtype,
    Status,
)

if TYPE_CHECKING:
    from replay.reference.model import ReferenceModel

RES = (Status.MEM_OBJ, Status.MEM_CAP)


def _pd_auth(m: ReferenceModel, call: Call, perm: int) -> tuple[Any, Pd | None]:
    cap = lookup(m, call, call.f["pd_sel"])
    pd = obj_of(cap)
    return cap, pd if isinstance(pd, Pd) else None


def _announce(m: ReferenceModel, cpu: Cpu, call: Call, obj: Obj, detail: int) -> None:
    """The optional OBJ_CREATED a recorder may write for a created object (F 4.1)."""
    owner = call.ec.pd
    typ = int(obj.type) << 8 | int(obj.subtype or 0)
    m.emit(cpu.n, Kind.OBJ_CREATED, [obj, typ, call.f["sel"] & SEL_MASK, owner, detail], optional=True)


def _insert(m: ReferenceModel, call: Call, obj: Obj, perms: int | None) -> None:
    if obj.id == -1:
        obj.id = m.reg.provisional_id()
    m.reg.add(obj)
    if call.ec.space is not None:
        call.ec.space.store(call.f["sel"], Cap(obj, perms))


def _prepare(m: ReferenceModel, cpu: Cpu, call: Call, obj: Obj, perms: int | None, detail: int, extra=None) -> None:
    """Common tail: decide, announce, and commit at HC_EXIT for the recorded status."""
    status = call.v.done()
    call.created = obj
    if call.v.alloc:  # NOVA traces "created" even when the insert then fails (domain.md 12)
        _announce(m, cpu, call, obj, detail)
    finish_call(m, call, status)

    def commit(m: ReferenceModel, st: int) -> None:
        if st != Status.SUCCESS:
            m.reg.discard(obj)
            return
        _insert(m, call, obj, perms)
        if extra is not None:
            extra(st)

    call.commit = commit
    call.forget = lambda m: call.ec.space.store(call.f["sel"], UNK) if call.ec.space is not None else None


def create_pd(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, op = call.v, call.f["op"]
    cap, pd = _pd_auth(m, call, PermPd.PD)
    v.need(valid(cap, ObjType.PD, PermPd.PD, PdSubtype.PD), Status.BAD_CAP)
    v.need(op <= CreatePdOp.MSR, Status.BAD_PAR)
    unknown = pd is None or not pd.attach_known
    first_pio = False
    if op in (CreatePdOp.OBJ, CreatePdOp.HST):
        have = None if unknown else getattr(pd, "obj" if op == CreatePdOp.OBJ else "hst") is not None
        v.need(None if have is None else not have, Status.ABORTED)
    elif op == CreatePdOp.DMA:
        v.need(hw.has_iommu(m.platform), Status.BAD_FTR)
    elif op == CreatePdOp.PIO:
        if not m.x86:
            v.need(False, Status.BAD_FTR)
        elif unknown:
            v.need(None, Status.ABORTED)
        elif pd.pio is None:
            first_pio = True
            v.need(pd.hst is not None, Status.ABORTED)
    elif op == CreatePdOp.MSR and not m.x86:
        v.need(False, Status.BAD_FTR)
    v.may(*RES)
    v.need(slot_free(m, call, call.f["sel"]), Status.BAD_CAP)
    if op == CreatePdOp.PD:
        obj: Obj = Pd(id=-1, type=ObjType.PD, subtype=PdSubtype.PD, bound=False)
        perms = cap.perms if isinstance(cap, Cap) else None
    else:
        obj = Space(id=-1, type=ObjType.PD, subtype=min(op, PdSubtype.MSR), pd=pd, bound=False)
        perms = defined_perms(m.api, ObjType.PD, obj.subtype)

    def attach(_st: int) -> None:
        if pd is None or not isinstance(obj, Space):
            return
        if op == CreatePdOp.OBJ:
            pd.obj = obj
        elif op == CreatePdOp.HST:
            pd.hst = obj
        elif op == CreatePdOp.PIO and (first_pio or (pd.attach_known and pd.pio is None)):
            pd.pio = obj

    _prepare(m, cpu, call, obj, perms, 0, attach)


def create_ec(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    flags, target = f["flags"], f["bind_cpu"]
    guest = bool(flags & FlagCreateEc.G)
    v.need(f["hva_page"] < hw.mem_selectors(m.platform, "HST"), Status.BAD_PAR)
    v.need(target < len(m.cpus), Status.BAD_CPU)
    cap, pd = _pd_auth(m, call, PermPd.EC)
    v.need(valid(cap, ObjType.PD, PermPd.EC, PdSubtype.PD), Status.BAD_CAP)
    if guest and m.x86:
        v.need(m.virt, Status.BAD_FTR)
    if pd is None or not pd.attach_known:
        spaces_ok = None
    else:
        spaces_ok = pd.obj is not None and pd.hst is not None and (guest or not m.x86 or pd.pio is not None)
    v.need(spaces_ok, Status.ABORTED)
    v.may(*RES)
    v.need(slot_free(m, call, f["sel"]), Status.BAD_CAP)
    t_flag = bool(flags & FlagCreateEc.T)
    if guest:
        st = EcSubtype.VCPU_OFFS if t_flag else EcSubtype.VCPU_REAL
    else:
        st = EcSubtype.GLOBAL if t_flag else EcSubtype.LOCAL
    local = st == EcSubtype.LOCAL
    ec = Ec(
        id=-1,
        bound=False,
        type=ObjType.EC,
        subtype=st,
        cpu=target if target < len(m.cpus) else None,
        pd=pd,
        space=pd.obj if pd is not None and pd.attach_known else None,
        evt=f["evt"],
        cont=Cont.IDLE if local else Cont.EVENT,
    )

    _prepare(m, cpu, call, ec, defined_perms(m.api, ObjType.EC, st), target)
    if guest and m.x86:
        commit = call.commit

        def learn_virt(m: ReferenceModel, status: int) -> None:
            """A vCPU creation that got past BAD_CAP tells whether VMX/SVM exist (MODEL.md 13)."""
            if status not in (Status.BAD_PAR, Status.BAD_CPU, Status.BAD_CAP):
                m.virt = status != Status.BAD_FTR
            commit(m, status)

        call.commit = learn_virt


def cos_valid(m: ReferenceModel, cos: int) -> bool | None:
    """COS 0 always; COS > 0 never on Arm or before a QOS configuration, else hardware (MODEL.md 6.2)."""
    if cos == 0:
        return True
    if not m.x86 or not m.qos_configured:
        return False
    return None


def create_sc(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    prio, budget, cos = f["prio"], f["budget_ms"], f["cos"]
    v.need(both(prio != 0 and budget != 0, cos_valid(m, cos)), Status.BAD_PAR)
    cap, _ = _pd_auth(m, call, PermPd.SC)
    ec_cap = lookup(m, call, f["ec_sel"])
    v.need(
        both(valid(cap, ObjType.PD, PermPd.SC, PdSubtype.PD), valid(ec_cap, ObjType.EC, PermEc.BIND_SC)), Status.BAD_CAP
    )
    ec = obj_of(ec_cap)
    ec = ec if isinstance(ec, Ec) else None
    v.need(None if ec is None or ec.subtype is None else ec.subtype != EcSubtype.LOCAL, Status.BAD_CAP)
    v.may(*RES)
    v.need(slot_free(m, call, f["sel"]), Status.BAD_CAP)
    status = v.done()
    sc = Sc(
        id=-1,
        bound=False,
        type=ObjType.SC,
        subtype=0,
        cpu=ec.cpu if ec else None,
        ec=ec,
        prio=prio,
        budget=budget_ticks(m.platform.stc_hz, budget),
        cos=cos,
        left=0,
        state=None,
    )
    call.created = sc
    perms = defined_perms(m.api, ObjType.SC, 0)
    committed = [False]

    def commit_now(m: ReferenceModel, known_where: bool) -> None:
        committed[0] = True
        _insert(m, call, sc, perms)
        if known_where:
            sched.unblock(m, cpu.n, sc)
        else:
            sc.state = None
            if sc.cpu is not None:
                m.cpus[sc.cpu].ready_complete = False

    if call.v.alloc:
        _announce(m, cpu, call, sc, sc.cpu if sc.cpu is not None else -1)
    if status == Status.SUCCESS:
        commit_now(m, True)
    finish_call(m, call, status)

    def settle(m: ReferenceModel, st: int) -> None:
        """At HC_EXIT: the recorded status decides whether the SC exists (it acted at entry)."""
        if st == Status.SUCCESS and not committed[0]:
            commit_now(m, False)
        elif st != Status.SUCCESS and committed[0]:
            _uncreate_sc(m, call, sc)
        elif st != Status.SUCCESS:
            m.reg.discard(sc)

    call.commit = settle


def _uncreate_sc(m: ReferenceModel, call: Call, sc: Sc) -> None:
    if call.ec.space is not None and call.ec.space.lookup(call.f["sel"]) is not UNK:
        call.ec.space.store(call.f["sel"], None)
    if sc.cpu is not None:
        target = m.cpus[sc.cpu]
        target.unready(sc)
        if sc in target.release:
            target.release.remove(sc)
        if target.sc is sc:
            target.sc = None
            target.ready_complete = False
    m.reg.discard(sc)


def create_pt(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    cap, _ = _pd_auth(m, call, PermPd.PT)
    ec_cap = lookup(m, call, f["ec_sel"])
    v.need(
        both(valid(cap, ObjType.PD, PermPd.PT, PdSubtype.PD), valid(ec_cap, ObjType.EC, PermEc.BIND_PT)), Status.BAD_CAP
    )
    ec = obj_of(ec_cap)
    ec = ec if isinstance(ec, Ec) else None
    v.need(None if ec is None or ec.subtype is None else ec.subtype == EcSubtype.LOCAL, Status.BAD_CAP)
    v.may(*RES)
    v.need(slot_free(m, call, f["sel"]), Status.BAD_CAP)
    pt = Pt(id=-1, bound=False, type=ObjType.PT, subtype=0, ec=ec, ip=f["ip"], pid=0, mtd=0)
    _prepare(m, cpu, call, pt, defined_perms(m.api, ObjType.PT, 0), 0)


def create_sm(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    intr = not m.gen2024 and bool(f.get("flags", 0) & FlagCreateSm2026.I)
    cap, _ = _pd_auth(m, call, PermPd.SM)
    v.need(valid(cap, ObjType.PD, PermPd.DC if intr else PermPd.SM, PdSubtype.PD), Status.BAD_CAP)
    if intr:
        v.need(irq.valid_intid(m, f["counter"]), Status.BAD_PAR)
    v.may(*RES)
    v.need(slot_free(m, call, f["sel"]), Status.BAD_CAP)
    st = SmSubtype.INT if intr else SmSubtype.REG
    n = f["counter"]
    sm = Sm(id=-1, bound=False, type=ObjType.SM, subtype=st, counter=0 if intr else n, irq=n if intr else -1)

    def attach(_st: int) -> None:
        if intr:
            irq.new_int_sm(m, sm)

    detail = n if n < 1 << 63 else n - (1 << 64)
    _prepare(m, cpu, call, sm, defined_perms(m.api, ObjType.SM, st), detail, attach)


def create_dc(m: ReferenceModel, cpu: Cpu, call: Call) -> None:
    v, f = call.v, call.f
    cap, _ = _pd_auth(m, call, PermPd.DC)
    v.need(valid(cap, ObjType.PD, PermPd.DC, PdSubtype.PD), Status.BAD_CAP)
    v.may(*RES)
    v.need(slot_free(m, call, f["sel"]), Status.BAD_CAP)
    dc = Dc(id=-1, bound=False, type=ObjType.DC, subtype=0, topo=f["topo"], dmar=f["dmar"], intr=f["intr"], dma=None)
    _prepare(m, cpu, call, dc, defined_perms(m.api, ObjType.DC, 0), 0)
