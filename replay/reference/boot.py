"""Boot: the objects NOVA makes before the root task runs (MODEL.md 4.1, domain.md 3.4).

``finish_boot`` turns the leading OBJ_CREATED announcements of a trace into the NOVA object space, the root
PD with its spaces, EC and SC, the idle EC/SC of every CPU and (nova-2024) the interrupt semaphores.
``emit_boot`` writes those announcements with a ``TraceBuilder`` exactly as a recorder must, plus the
BSP's first switch to the root EC: tests, samples and synthetic traces start with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from replay.reference import irq, sched
from replay.reference.state import Cap, Cont, Ec, Pd, Sc, Sm, Space, split_type
from tracefmt.events import Kind, SwitchReason
from tracefmt.findings import Explanation, FindingCode
from tracefmt.nova import (
    IDLE_SC_BUDGET_MS,
    IDLE_SC_PRIO,
    NOVA_SEL_CONSOLE_SM,
    NOVA_SEL_INT_BASE,
    NOVA_SEL_NOVA_HST,
    NOVA_SEL_NOVA_MSR,
    NOVA_SEL_NOVA_OBJ,
    NOVA_SEL_NOVA_PIO,
    NOVA_SEL_ROOT_HST,
    NOVA_SEL_ROOT_OBJ,
    NOVA_SEL_ROOT_PD,
    NOVA_SEL_ROOT_PIO,
    PERM_EC_DEFINED,
    PERM_PD_DEFINED,
    PERM_PT_DEFINED,
    PERM_SC_DEFINED,
    PERM_SM_DEFINED,
    PERM_SM_DEFINED_INT,
    PERM_SP_DEFINED,
    ROOT_SC_BUDGET_MS,
    ROOT_SC_PRIO,
    ROOT_SEL_NOVA_OBJ,
    ROOT_SEL_ROOT_EC,
    ROOT_SEL_ROOT_OBJ,
    ROOT_SEL_ROOT_PD,
    ROOT_SEL_ROOT_SC,
    X86_NUM_GSI,
    EcSubtype,
    ObjType,
    PdSubtype,
    PermDc,
    PermSp,
    SmSubtype,
)
from tracefmt.platform import Platform

if TYPE_CHECKING:
    from replay.reference.model import Ev, ReferenceModel
    from tracefmt.builder import TraceBuilder

_NOVA_SPACES = {
    NOVA_SEL_NOVA_OBJ: PdSubtype.OBJ,
    NOVA_SEL_NOVA_HST: PdSubtype.HST,
    NOVA_SEL_NOVA_PIO: PdSubtype.PIO,
    NOVA_SEL_NOVA_MSR: PdSubtype.MSR,
}
_ROOT_SPACES = {NOVA_SEL_ROOT_OBJ: PdSubtype.OBJ, NOVA_SEL_ROOT_HST: PdSubtype.HST, NOVA_SEL_ROOT_PIO: PdSubtype.PIO}


def defined_perms(api: str, t: ObjType, subtype: int | None) -> int:
    """Permissions a capability gets when its object is created (domain.md 3.2)."""
    if t == ObjType.PD:
        return PERM_PD_DEFINED[api] if subtype == PdSubtype.PD else PERM_SP_DEFINED[PdSubtype(subtype)]
    if t == ObjType.EC:
        return PERM_EC_DEFINED
    if t == ObjType.SC:
        return PERM_SC_DEFINED
    if t == ObjType.PT:
        return PERM_PT_DEFINED
    if t == ObjType.SM:
        return PERM_SM_DEFINED_INT if subtype == SmSubtype.INT else PERM_SM_DEFINED
    return int(PermDc.ASSIGN_DEV | PermDc.ASSIGN_INT)


def budget_ticks(stc_hz: int, ms: int) -> int:
    return ms * stc_hz // 1000


def finish_boot(m: ReferenceModel) -> None:
    """Build the boot state from the buffered announcements and queue the BSP's switch to root."""
    m.in_boot = False
    rows, m.boot_rows = m.boot_rows, []
    made: list[tuple[Ev, object]] = []
    for ev in rows:
        oid, typ = ev.a[0], ev.a[1]
        ts = split_type(typ)
        if ts is None or oid in (0, -1):
            m.report(FindingCode.BAD_RECORD, ev, oid, -1, typ, expl=Explanation.RECORDER)
            continue
        obj = m.reg.get(oid)
        if obj is None or obj.type != ts[0] or obj.subtype != ts[1]:
            if obj is not None:
                m.report(FindingCode.TYPE_MISMATCH, ev, oid, int(obj.type), int(ts[0]), expl=Explanation.INPUT)
                continue
            obj = m.reg.make(ts[0], ts[1], oid)
        made.append((ev, obj))
    nova = _find(made, owner=0, sel=NOVA_SEL_NOVA_OBJ, t=ObjType.PD, st=PdSubtype.OBJ)
    root_pd = _find(made, owner=0, sel=NOVA_SEL_ROOT_PD, t=ObjType.PD, st=PdSubtype.PD)
    complete = nova is not None
    if nova is None:  # not announced: a placeholder holds what the announcements do place there
        nova = m.reg.make(ObjType.PD, PdSubtype.OBJ, None, kernel=True, default_unknown=True)
    m.nova, m.root_pd = nova, root_pd
    for sel, st in _NOVA_SPACES.items():
        sp = _find(made, owner=0, sel=sel, t=ObjType.PD, st=st)
        if sp is not None:
            sp.kernel = True
    if root_pd is not None:
        for sel, st in _ROOT_SPACES.items():
            sp = _find(made, owner=0, sel=sel, t=ObjType.PD, st=st)
            if sp is not None:
                sp.pd = root_pd
                setattr(root_pd, {PdSubtype.OBJ: "obj", PdSubtype.HST: "hst", PdSubtype.PIO: "pio"}[st], sp)
    # capabilities: owner 0 -> NOVA space, owner X -> X's OBJ space
    for ev, obj in made:
        _, typ, sel, owner, _ = ev.a
        if sel < 0:
            continue
        space = nova if owner == 0 else _owner_space(m, owner)
        if space is None:
            continue
        perms = _nova_perms(m, sel, obj) if owner == 0 else defined_perms(m.api, obj.type, obj.subtype)
        space.store(sel, Cap(obj, perms))
    root_obj = root_pd.obj if root_pd is not None else None
    if root_pd is not None and root_obj is None:  # its content is fixed by Ec::create_root anyway
        root_obj = root_pd.obj = m.reg.make(ObjType.PD, PdSubtype.OBJ, None, pd=root_pd)
        for ev, obj in made:
            if ev.a[3] == root_pd.id and ev.a[2] >= 0:
                root_obj.store(ev.a[2], Cap(obj, defined_perms(m.api, obj.type, obj.subtype)))
    if root_obj is not None and nova is not None:
        root_obj.store(ROOT_SEL_NOVA_OBJ, Cap(nova, int(PermSp.TAKE)))
        root_obj.store(ROOT_SEL_ROOT_OBJ, Cap(root_obj, PERM_SP_DEFINED[PdSubtype.OBJ]))
        root_obj.store(ROOT_SEL_ROOT_PD, Cap(root_pd, PERM_PD_DEFINED[m.api]))
    _threads(m, made, nova, root_pd)
    for ev, obj in made:
        if isinstance(obj, Sm):
            obj.counter = 0
            if obj.subtype == SmSubtype.INT:
                obj.irq = ev.a[4]
            else:
                obj.counter = ev.a[4]
    if m.gen2024:
        irq.boot_table(m, [o for _, o in made if isinstance(o, Sm) and o.subtype == SmSubtype.INT])
    for cpu in m.cpus:
        if cpu.idle_sc is None or cpu.idle_ec is None:  # no idle objects: this CPU starts unknown
            cpu.ec = cpu.sc = None
            cpu.ready_complete = False
    if not m.partial:  # a partial source (console) cannot contain these announcements
        _check_complete(m, made, nova if complete else None, root_pd)
    bsp = next(
        (
            o.cpu
            for _, o in made
            if isinstance(o, Ec) and o.subtype == EcSubtype.GLOBAL and o.pd is root_pd and root_pd is not None
        ),
        None,
    )
    for cpu in m.cpus:  # a recorder may show each CPU entering its idle EC as a switch from nothing (0)
        m.action[cpu.n] = rows[-1].i if rows else 0
        if cpu.n != bsp and cpu.idle_ec is not None:
            words = [None, cpu.idle_ec, None, cpu.idle_sc, int(SwitchReason.WAKE)]
            m.emit(cpu.n, Kind.SCHED_SWITCH, words, optional=True, ref=None)
    if bsp is not None:
        sched.end_action(m, m.cpus[bsp], SwitchReason.WAKE)
        for x in m.cpus[bsp].pending:  # from the idle EC, or from nothing
            if x.kind == Kind.SCHED_SWITCH:
                x.words[0] = x.words[2] = None


def _find(made: list, owner: int, sel: int, t: ObjType, st: int):
    for ev, obj in made:
        if ev.a[3] == owner and ev.a[2] == sel and obj.type == t and obj.subtype == st:
            return obj
    return None


def _owner_space(m: ReferenceModel, owner: int) -> Space | None:
    pd = m.reg.get(owner)
    return pd.obj if isinstance(pd, Pd) else None


def _nova_perms(m: ReferenceModel, sel: int, obj: object) -> int:
    if sel == NOVA_SEL_CONSOLE_SM:
        return PERM_SM_DEFINED
    if sel in _NOVA_SPACES:
        return int(PermSp.TAKE)
    if sel in _ROOT_SPACES:
        return PERM_SP_DEFINED[_ROOT_SPACES[sel]]
    if sel == NOVA_SEL_ROOT_PD:
        return PERM_PD_DEFINED[m.api]
    return defined_perms(m.api, obj.type, obj.subtype)  # interrupt SMs 0x12, idle SCs 0x1


def _threads(m: ReferenceModel, made: list, nova: Space | None, root_pd: Pd | None) -> None:
    """Idle EC/SC per CPU, root EC/SC (Ec::create_idle, Ec::create_root)."""
    idle_ec: dict[int, Ec] = {}
    for ev, obj in made:
        if isinstance(obj, Ec):
            obj.cpu = ev.a[4]
            obj.space = nova
            if ev.a[3] == 0:
                obj.subtype, obj.cont, obj.evt = EcSubtype.GLOBAL, Cont.KERNEL, 0
                idle_ec[obj.cpu] = obj
            elif root_pd is not None and ev.a[3] == root_pd.id:
                obj.pd, obj.space, obj.cont, obj.evt = root_pd, root_pd.obj, Cont.USER, 0
    for ev, obj in made:
        if not isinstance(obj, Sc):
            continue
        obj.cpu = ev.a[4]
        if ev.a[3] == 0:
            obj.ec, obj.prio = idle_ec.get(obj.cpu), IDLE_SC_PRIO
            obj.budget, obj.cos, obj.left = budget_ticks(m.platform.stc_hz, IDLE_SC_BUDGET_MS), 0, 0
            cpu = m.cpus[obj.cpu]
            cpu.idle_sc, cpu.sc, obj.state, obj.since = obj, obj, "current", ev.ts
            cpu.idle_ec = cpu.ec = obj.ec
        else:
            obj.ec = next((o for _, o in made if isinstance(o, Ec) and o.pd is root_pd and o.cpu == obj.cpu), None)
            obj.prio, obj.cos, obj.left = ROOT_SC_PRIO, 0, 0
            obj.budget = budget_ticks(m.platform.stc_hz, ROOT_SC_BUDGET_MS)
            sched.enqueue(m, m.cpus[obj.cpu], obj, ev.ts)


def _check_complete(m: ReferenceModel, made: list, nova: Space | None, root_pd: Pd | None) -> None:
    def missing(sel: int, cpu: int = -1) -> None:
        m.report(FindingCode.BOOT_INCOMPLETE, m.ev, subject=sel, detail=cpu, expl=Explanation.RECORDER)

    if nova is None:
        missing(NOVA_SEL_NOVA_OBJ)
    if root_pd is None or root_pd.obj is None:
        missing(NOVA_SEL_ROOT_PD if root_pd is None else NOVA_SEL_ROOT_OBJ)
    if not any(isinstance(o, Sm) and o.subtype == SmSubtype.REG for _, o in made):
        missing(NOVA_SEL_CONSOLE_SM)
    for cpu in m.cpus:
        if cpu.idle_sc is None or cpu.idle_ec is None:
            missing(cpu.n, cpu.n)
    if m.gen2024 and m.x86:
        have = {o.irq for _, o in made if isinstance(o, Sm) and o.subtype == SmSubtype.INT}
        lack = [n for n in range(X86_NUM_GSI) if n not in have]
        if lack:
            missing(NOVA_SEL_INT_BASE + lack[0])


# --- writing the announcements ----------------------------------------------------------------------------


@dataclass
class BootIds:
    """Object ids of a synthetic boot (32-byte aligned, like kernel addresses)."""

    nova_obj: int = 0x10000
    nova_hst: int = 0x10020
    nova_pio: int = 0x10040
    nova_msr: int = 0x10060
    console: int = 0x10080
    root_obj: int = 0x100A0
    root_hst: int = 0x100C0
    root_pio: int = 0x100E0
    root_pd: int = 0x10100
    root_ec: int = 0x10120
    root_sc: int = 0x10140
    idle_ec: list[int] = field(default_factory=list)
    idle_sc: list[int] = field(default_factory=list)
    int_sm: dict[int, int] = field(default_factory=dict)  # interrupt number -> SM id
    bsp: int = 0


def _typ(t: ObjType, st: int) -> int:
    return int(t) << 8 | int(st)


def boot_ids(platform: Platform) -> BootIds:
    ids = BootIds()
    ids.idle_ec = [0x20000 + 0x40 * c for c in range(platform.cpus)]
    ids.idle_sc = [0x20020 + 0x40 * c for c in range(platform.cpus)]
    if platform.api == "nova-2024":
        n = X86_NUM_GSI if platform.arch == "x86_64" else platform.arm.spi_count
        ids.int_sm = {i: 0x30000 + 0x20 * i for i in range(n)}
    return ids


def emit_boot(b: TraceBuilder, ids: BootIds | None = None, switch: bool = True) -> BootIds:
    """Write the boot announcements (CPU ``ids.bsp``) and (``switch``) the BSP's switch idle -> root."""
    p = b.platform
    ids = ids or boot_ids(p)
    c = ids.bsp

    def obj(oid: int, t: ObjType, st: int, sel: int, owner: int = 0, detail: int = 0) -> None:
        b.event(c, Kind.OBJ_CREATED, ec=0, object=oid, type=_typ(t, st), selector=sel, owner=owner, detail=detail)

    obj(ids.nova_obj, ObjType.PD, PdSubtype.OBJ, NOVA_SEL_NOVA_OBJ)
    obj(ids.nova_hst, ObjType.PD, PdSubtype.HST, NOVA_SEL_NOVA_HST)
    if p.arch == "x86_64":
        obj(ids.nova_pio, ObjType.PD, PdSubtype.PIO, NOVA_SEL_NOVA_PIO)
        obj(ids.nova_msr, ObjType.PD, PdSubtype.MSR, NOVA_SEL_NOVA_MSR)
    obj(ids.console, ObjType.SM, SmSubtype.REG, NOVA_SEL_CONSOLE_SM)
    for n, sm in sorted(ids.int_sm.items()):
        obj(sm, ObjType.SM, SmSubtype.INT, NOVA_SEL_INT_BASE + n, detail=n)
    for cpu in range(p.cpus):
        obj(ids.idle_ec[cpu], ObjType.EC, EcSubtype.GLOBAL, -1, detail=cpu)
        obj(ids.idle_sc[cpu], ObjType.SC, 0, cpu, detail=cpu)
    obj(ids.root_pd, ObjType.PD, PdSubtype.PD, NOVA_SEL_ROOT_PD)
    obj(ids.root_obj, ObjType.PD, PdSubtype.OBJ, NOVA_SEL_ROOT_OBJ)
    obj(ids.root_hst, ObjType.PD, PdSubtype.HST, NOVA_SEL_ROOT_HST)
    if p.arch == "x86_64":
        obj(ids.root_pio, ObjType.PD, PdSubtype.PIO, NOVA_SEL_ROOT_PIO)
    obj(ids.root_ec, ObjType.EC, EcSubtype.GLOBAL, ROOT_SEL_ROOT_EC, owner=ids.root_pd, detail=c)
    obj(ids.root_sc, ObjType.SC, 0, ROOT_SEL_ROOT_SC, owner=ids.root_pd, detail=c)
    if not switch:
        return ids
    b.event(
        c,
        Kind.SCHED_SWITCH,
        ec=ids.root_ec,
        from_ec=ids.idle_ec[c],
        to_ec=ids.root_ec,
        from_sc=ids.idle_sc[c],
        to_sc=ids.root_sc,
        switch_reason=SwitchReason.WAKE,
    )
    return ids
