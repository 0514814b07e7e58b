"""The boot and control plane of a synthetic system, built event by event in Python (a few events per object).

The root task (on the BSP, CPU 0) creates a server PD with its spaces and memory, a DMA space and a device
assignment, per CPU a STARTUP handler, an IPC server and a client, and per interrupt line a driver: it obtains
the interrupt semaphore (nova-2024: ``ctrl_pd`` from the NOVA space; nova-2026: ``create_sm`` with I and a
Device Context), routes it with ``assign_int`` and starts a global driver EC whose SC runs on the routed CPU.
Every driver ends blocked in ``ctrl_sm`` down on its semaphore, every client in a down with a deadline, and
the root in a down with a deadline: the steady state (:mod:`synth.kernel`) starts from there.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from replay.reference import BootIds, emit_boot
from synth.config import SynthConfig
from synth.platform import ARM_ITS, ARM_SMMU, MAX_LINES, X86_IOMMU, Line, build
from tracefmt.builder import TraceBuilder
from tracefmt.events import (
    EventClass,
    FaultKind,
    IrqCause,
    IrqKind,
    KillReason,
    Kind,
    MarkerType,
    SwitchReason,
    TimeoutKind,
    WakeReason,
)
from tracefmt.nova import (
    API_2024,
    NOVA_SEL_INT_BASE,
    NOVA_SEL_ROOT_HST,
    ROOT_SEL_NOVA_OBJ,
    ROOT_SEL_ROOT_OBJ,
    ROOT_SEL_ROOT_PD,
    ROOT_SEL_ROOT_SC,
    SEL_HST_ARCH,
    X86_MSI_ADDR_IR,
    X86_NUM_GSI,
    X86_VEC_GSI,
    CreatePdOp,
    FlagAssignInt2024,
    FlagCreateEc,
    FlagCreateSm2026,
    FlagCtrlSm,
    Hc,
    Ipi,
    Status,
    hc_number,
)
from tracefmt.platform import Platform

# arrival / acknowledge recipes (FORMAT.md 4.4)
MODE_X86_2024, MODE_ARM_2024, MODE_2026 = 0, 1, 2
ACK_NONE, ACK_UNMASK, ACK_DEACTIVATE = 0, 1, 2
EMPTY_SEL = 0x1F  # a selector the root never fills (null capability)
SEL_BASE = 0x20000  # root selectors for objects the plan creates
EVT_BASE = 0x400  # event selector base of CPU c: EVT_BASE + 0x100 * c
DRIVER_BUDGET_MS = 10
CLIENT_PRIO = 5
ITS_TRANSLATER = 0x10040


class Chan(NamedTuple):
    """Per routed interrupt line (one driver EC each). ``alive`` and ``count`` change while generating."""

    cpu: np.ndarray
    irq: np.ndarray
    vector: np.ndarray
    kind: np.ndarray
    source: np.ndarray
    eid: np.ndarray
    ec: np.ndarray
    sc: np.ndarray
    sm: np.ndarray
    sel: np.ndarray
    prio: np.ndarray
    ack: np.ndarray
    mask: np.ndarray  # masked on arrival (x86 nova-2024 level pin)
    wired: np.ndarray  # has a masked/active state between arrival and acknowledge
    alive: np.ndarray
    count: np.ndarray
    route: np.ndarray  # the CPU the interrupt is delivered to (nova-2026 affinity changes move it)
    dc: np.ndarray  # nova-2026 assign_int: Device Context selector, interrupt index, cfg bits, vector index
    idx: np.ndarray
    cfg: np.ndarray
    vidx: np.ndarray
    out1: np.ndarray  # assign_int attach outputs (MSI address / data)
    out2: np.ndarray
    old_route: np.ndarray  # before the last affinity change (-1 none)
    old_vec: np.ndarray


class Cpus(NamedTuple):
    idle_ec: np.ndarray
    idle_sc: np.ndarray
    client_ec: np.ndarray
    client_sc: np.ndarray
    client_sm: np.ndarray
    client_sel: np.ndarray
    client_deadline: np.ndarray
    server_ec: np.ndarray
    portal_sel: np.ndarray
    ch_start: np.ndarray  # channels of CPU c: by_cpu[ch_start[c]:ch_start[c+1]]
    by_cpu: np.ndarray
    vec_used: np.ndarray  # nova-2026 x86: (cpu * 217 + vector index) attached


class Plan(NamedTuple):
    builder: TraceBuilder
    ids: BootIds
    chan: Chan
    cpus: Cpus
    root: np.ndarray  # root_ec, root_sc, root_sm, root_sm_sel, root_deadline, hst_sel, srv_hst_sel, consumed
    spare_irqs: np.ndarray  # interrupt numbers of lines with no driver (misroute: unassigned)
    strings: tuple[str, ...]


ROOT_EC, ROOT_SC, ROOT_SM, ROOT_SM_SEL, ROOT_DEADLINE, ROOT_HST_SEL, SRV_HST_SEL, ROOT_CONSUMED = range(8)
STRINGS = ("boot", "steady-state")


def ticks(platform: Platform, ns: float) -> int:
    return max(1, int(platform.stc_hz * ns / 1e9))


class _Builder:
    """Helper state while the control plane is written."""

    def __init__(self, cfg: SynthConfig, platform: Platform) -> None:
        self.cfg = cfg
        self.p = platform
        self.api = platform.api
        self.x86 = platform.arch == "x86_64"
        self.b = TraceBuilder(platform, start_ts=1_000_000, tick=ticks(platform, 100))
        self.ids = emit_boot(self.b)
        self.root = self.ids.root_ec
        self._sel = SEL_BASE
        self._oid = 0x4000_0000
        self.hva = 0x1000

    def sel(self) -> int:
        self._sel += 1
        return self._sel

    def oid(self) -> int:
        self._oid += 0x80
        return self._oid

    def call(self, hc: Hc, status: int = Status.SUCCESS, cpu: int = 0, ec: int | None = None, **kw: int) -> int:
        ec = self.root if ec is None else ec
        out1, out2, created = kw.pop("out1", 0), kw.pop("out2", 0), kw.pop("created", 0)
        self.b.hc_entry(cpu, ec, hc, **kw)
        return self.b.hc_exit(cpu, ec, hc, int(status), out_p1=out1, out_p2=out2, created=created)

    def create(self, hc: Hc, sel: int, **kw: int) -> int:
        oid = self.oid()
        self.call(hc, sel=sel, created=oid, **kw)
        return oid

    def switch(self, cpu: int, from_ec: int, to_ec: int, from_sc: int, to_sc: int, why: SwitchReason) -> None:
        self.b.event(
            cpu, Kind.SCHED_SWITCH, ec=to_ec, from_ec=from_ec, to_ec=to_ec, from_sc=from_sc, to_sc=to_sc,
            switch_reason=why,
        )  # fmt: skip


def evt_base(cpu: int) -> int:
    return EVT_BASE + 0x100 * cpu


def build_plan(cfg: SynthConfig) -> Plan:
    platform, lines = build(cfg)
    w = _Builder(cfg, platform)
    b, ids = w.b, w.ids
    n = platform.cpus
    mode = MODE_2026 if w.api != API_2024 else (MODE_X86_2024 if w.x86 else MODE_ARM_2024)
    b.event(0, Kind.MARKER, ec=w.root, marker=MarkerType.PHASE_BEGIN, subject=0, value=0, string=0)

    root_sm_sel = w.sel()
    root_sm = w.create(Hc.CREATE_SM, root_sm_sel, p1=ROOT_SEL_ROOT_PD, p2=0)

    # a server PD with its spaces, and memory for it (root HST pulled from the NOVA space, then delegated)
    srv = w.sel()
    w.create(Hc.CREATE_PD, srv, flags=CreatePdOp.PD, p1=ROOT_SEL_ROOT_PD)
    spaces = [CreatePdOp.OBJ, CreatePdOp.HST] + ([CreatePdOp.PIO] if w.x86 else [])
    space_sel = {}
    for op in spaces:
        space_sel[op] = w.sel()
        w.create(Hc.CREATE_PD, space_sel[op], flags=op, p1=srv)
    hst = w.sel()
    w.call(Hc.CTRL_PD, sel=ROOT_SEL_NOVA_OBJ, p1=ROOT_SEL_ROOT_OBJ, p2=NOVA_SEL_ROOT_HST << 12, p3=hst << 12 | 0x1F)
    w.call(Hc.CTRL_PD, sel=hst, p1=space_sel[CreatePdOp.HST], p2=0x100 << 12 | 4, p3=0x400 << 12 | 0x3)

    # a DMA space and one device assigned to it
    dma = w.sel()
    w.create(Hc.CREATE_PD, dma, flags=CreatePdOp.DMA, p1=ROOT_SEL_ROOT_PD)
    unit = X86_IOMMU if w.x86 else ARM_SMMU
    dev0 = platform.devices[0].source_id
    if w.api == API_2024:
        w.call(Hc.ASSIGN_DEV, sel=dma, p1=unit, p2=dev0)
    else:
        dc = w.sel()
        w.create(Hc.CREATE_DC, dc, p1=ROOT_SEL_ROOT_PD, p2=dev0 << 32 | dev0, p3=unit, p4=0)
        w.call(Hc.ASSIGN_DEV, sel=dc, p1=EMPTY_SEL, p2=dma)

    # per CPU: STARTUP handler (local EC + portal at evt + SELHST/ARCH), IPC server in the server PD + portal
    handler = []
    server, portal = [], []
    for c in range(n):
        h_sel = w.sel()
        handler.append(w.create(Hc.CREATE_EC, h_sel, p1=ROOT_SEL_ROOT_PD, p2=_hva(w) | c))
        w.create(Hc.CREATE_PT, evt_base(c) + SEL_HST_ARCH[platform.arch], p1=ROOT_SEL_ROOT_PD, p2=h_sel, p3=0x7000)
        s_sel = w.sel()
        server.append(w.create(Hc.CREATE_EC, s_sel, p1=srv, p2=_hva(w) | c))
        pt = w.sel()
        w.create(Hc.CREATE_PT, pt, p1=ROOT_SEL_ROOT_PD, p2=s_sel, p3=0x9000)
        w.call(Hc.CTRL_PT, sel=pt, p1=0x100 + c, p2=0x1F)
        portal.append(pt)

    state = {"deadline": 0}

    def start(cpu: int, prio: int, then_block) -> tuple[int, int]:
        """A global EC + SC on ``cpu``; it starts (STARTUP through the handler), then ``then_block(ec, sc)``."""
        ec_sel, sc_sel = w.sel(), w.sel()
        ec = w.create(
            Hc.CREATE_EC, ec_sel, flags=FlagCreateEc.T, p1=ROOT_SEL_ROOT_PD, p2=_hva(w) | cpu, p3=0x8000,
            p4=evt_base(cpu),
        )  # fmt: skip
        sc = w.oid()
        scd = DRIVER_BUDGET_MS | prio << 16
        b.hc_entry(0, w.root, Hc.CREATE_SC, sel=sc_sel, p1=ROOT_SEL_ROOT_PD, p2=ec_sel, p3=scd)
        idle_ec, idle_sc = ids.idle_ec[cpu], ids.idle_sc[cpu]
        if cpu != 0:
            b.event(0, Kind.IPI_SEND, ec=w.root, target_cpu=cpu, ipi=Ipi.RRQ)
            b.hc_exit(0, w.root, Hc.CREATE_SC, 0, created=sc)
            b.event(cpu, Kind.IPI_RECV, ec=idle_ec, source_cpu=0, ipi=Ipi.RRQ)
            w.switch(cpu, idle_ec, ec, idle_sc, sc, SwitchReason.WAKE)
        else:  # the root (priority 127) sleeps so that the new SC runs
            b.hc_exit(0, w.root, Hc.CREATE_SC, 0, created=sc)
            deadline = b.ts + ticks(platform, 50_000)
            b.hc_entry(0, w.root, Hc.CTRL_SM, sel=root_sm_sel, flags=FlagCtrlSm.D, p1=deadline)
            b.event(0, Kind.SM_BLOCK, ec=w.root, sm=root_sm, deadline=deadline, sc=ids.root_sc)
            w.switch(0, w.root, ec, ids.root_sc, sc, SwitchReason.BLOCK)
            state["deadline"] = deadline
        portal_sel = evt_base(cpu) + SEL_HST_ARCH[platform.arch]
        b.event(
            cpu, Kind.EVENT_DELIVERY, ec=ec, event=SEL_HST_ARCH[platform.arch], handler=handler[cpu],
            event_class=EventClass.STARTUP, portal=portal_sel,
        )  # fmt: skip
        w.switch(cpu, ec, handler[cpu], sc, sc, SwitchReason.IPC_CALL)
        b.hc_entry(cpu, handler[cpu], Hc.IPC_REPLY, p1=0)
        w.switch(cpu, handler[cpu], ec, sc, sc, SwitchReason.IPC_REPLY)
        then_block(ec, sc)
        if cpu == 0:
            _root_wakes(w, root_sm, state["deadline"])
        return ec, sc

    # drivers: one global EC per routed line, bound to the CPU the line is routed to
    nch = _routable(w, lines)
    routed = lines[:nch]
    per_cpu = [0] * n
    chan_rows = []
    dcs: dict[int, int] = {}
    vec_used = np.zeros(n * X86_NUM_GSI, dtype=np.int8)
    masked_demo = False
    for k, ln in enumerate(routed):
        cpu = k % n
        rank = per_cpu[cpu]
        per_cpu[cpu] += 1
        prio = 20 + rank % 100
        sel = w.sel()
        kind = _irq_kind(w, ln)
        vector, eid = ln.irq, -1
        dc, cfg_bits, vec, out = EMPTY_SEL, 0, 0, (0, 0)
        if w.api == API_2024:
            sm = ids.int_sm[ln.irq]
            w.call(Hc.CTRL_PD, sel=ROOT_SEL_NOVA_OBJ, p1=ROOT_SEL_ROOT_OBJ, p2=(NOVA_SEL_INT_BASE + ln.irq) << 12,
                   p3=sel << 12 | 0x1F)  # fmt: skip
            flags = int(FlagAssignInt2024.T) if (ln.wired and w.x86) else 0
            if w.x86:
                vector = X86_VEC_GSI + ln.irq
                out = (0, 0) if ln.wired else (X86_MSI_ADDR_IR, ln.irq)
                eid = -1 if ln.wired else ln.irq
            else:
                vector = 32 + ln.irq
                out = (0, 0)
            if ln.wired and not masked_demo:  # a driver first routes its line masked, then enables it
                _assign_2024(w, sel, flags | FlagAssignInt2024.M, cpu, ln, (0, 0) if ln.wired else out, Kind.IRQ_MASK)
                if w.x86:
                    b.event(0, Kind.IRQ_DEACTIVATE, ec=w.root, irq=ln.irq, irq_kind=kind, cause=IrqCause.ASSIGN)
                masked_demo = True
            _assign_2024(w, sel, flags, cpu, ln, out, Kind.IRQ_UNMASK if ln.wired else None)
        else:
            sm = w.create(Hc.CREATE_SM, sel, flags=FlagCreateSm2026.I, p1=ROOT_SEL_ROOT_PD, p2=ln.irq)
            if not ln.wired:
                if ln.device not in dcs:
                    dcs[ln.device] = w.sel()
                    topo = ln.source if w.x86 else ln.source << 32 | ln.source
                    w.create(Hc.CREATE_DC, dcs[ln.device], p1=ROOT_SEL_ROOT_PD, p2=topo, p3=unit,
                             p4=0 if w.x86 else ARM_ITS)  # fmt: skip
                dc = dcs[ln.device]
            cfg_bits = 0x2 if (ln.wired and w.x86) else 0
            if w.x86:
                vec = rank
                vec_used[cpu * X86_NUM_GSI + vec] = 1
                vector = X86_VEC_GSI + vec
                out = (0, 0) if ln.wired else (X86_MSI_ADDR_IR, ln.irq & 0xFFFF)
                eid = -1 if ln.wired else ln.index
            else:
                vec = 0
                vector = ln.irq
                out = (0, 0) if ln.wired else (ARM_ITS + ITS_TRANSLATER, ln.index)
                eid = -1 if ln.wired else ln.index
            p2 = vec << 8 | cpu << 16 | ln.index << 32
            if ln.wired and not masked_demo:
                b.hc_entry(0, w.root, Hc.ASSIGN_INT, sel=sel, flags=1, p1=dc, p2=p2 | cfg_bits | 1)
                b.event(0, Kind.IRQ_MASK, ec=w.root, irq=ln.irq, irq_kind=kind, cause=IrqCause.ASSIGN)
                b.hc_exit(0, w.root, Hc.ASSIGN_INT, 0)
                masked_demo = True
            b.hc_entry(0, w.root, Hc.ASSIGN_INT, sel=sel, flags=1, p1=dc, p2=p2 | cfg_bits)
            if ln.wired:
                b.event(0, Kind.IRQ_UNMASK, ec=w.root, irq=ln.irq, irq_kind=kind, cause=IrqCause.ASSIGN)
            b.hc_exit(0, w.root, Hc.ASSIGN_INT, 0, out_p1=out[0], out_p2=out[1])
        if mode == MODE_X86_2024:
            ack = ACK_UNMASK if ln.wired else ACK_NONE
        elif mode == MODE_ARM_2024:
            ack = ACK_DEACTIVATE
        else:
            ack = ACK_DEACTIVATE if ln.wired else ACK_NONE
        source = -1 if ln.wired else ln.source

        def block(ec: int, sc: int, sel: int = sel, sm: int = sm, ack: int = ack, ln: Line = ln, kind: int = kind,
                  cpu: int = cpu) -> None:  # fmt: skip
            b.hc_entry(cpu, ec, Hc.CTRL_SM, sel=sel, flags=FlagCtrlSm.D)
            if ack:
                ack_kind = Kind.IRQ_UNMASK if ack == ACK_UNMASK else Kind.IRQ_DEACTIVATE
                b.event(cpu, ack_kind, ec=ec, irq=ln.irq, irq_kind=kind, cause=IrqCause.DOWN)
            b.event(cpu, Kind.SM_BLOCK, ec=ec, sm=sm, deadline=0, sc=sc)
            w.switch(cpu, ec, ids.idle_ec[cpu], sc, ids.idle_sc[cpu], SwitchReason.BLOCK)

        ec, sc = start(cpu, prio, block)
        mask = int(mode == MODE_X86_2024 and ln.wired)
        chan_rows.append((cpu, ln.irq, vector, kind, source, eid, ec, sc, sm, sel, prio, ack, mask, int(ln.wired),
                          1, 0, cpu, dc, ln.index, cfg_bits, vec, out[0], out[1], -1, -1))  # fmt: skip

    # clients: a global EC per CPU, sleeping on its own semaphore with a deadline between requests
    client_ec, client_sc, client_sm, client_sel, client_deadline = [], [], [], [], []
    period = ticks(platform, 200_000)
    for c in range(n):
        s_sel = w.sel()
        sm = w.create(Hc.CREATE_SM, s_sel, p1=ROOT_SEL_ROOT_PD, p2=0)
        box: dict[str, int] = {}

        def block(ec: int, sc: int, c: int = c, s_sel: int = s_sel, sm: int = sm, box: dict = box) -> None:
            deadline = b.ts + period
            box["deadline"] = deadline
            b.hc_entry(c, ec, Hc.CTRL_SM, sel=s_sel, flags=FlagCtrlSm.D, p1=deadline)
            b.event(c, Kind.SM_BLOCK, ec=ec, sm=sm, deadline=deadline, sc=sc)
            w.switch(c, ec, ids.idle_ec[c], sc, ids.idle_sc[c], SwitchReason.BLOCK)

        ec, sc = start(c, CLIENT_PRIO, block)
        client_ec.append(ec)
        client_sc.append(sc)
        client_sm.append(sm)
        client_sel.append(s_sel)
        client_deadline.append(box["deadline"])

    # a device probing before its interrupt was set up: refused by the IOMMU / ITS (benign, not a fault)
    if w.x86:
        b.event(0, Kind.INTR_FAULT, ec=w.root, source=dev0, fault=FaultKind.IR_NOT_PRESENT, info=0, unit=X86_IOMMU)
    else:
        b.event(0, Kind.INTR_FAULT, ec=w.root, source=dev0, fault=FaultKind.ITS_UNMAPPED_EVENT, info=0, unit=ARM_ITS)
    _probe_crash(w, start, handler)
    b.event(0, Kind.MARKER, ec=w.root, marker=MarkerType.PHASE_END, subject=0, value=0, string=0)
    b.event(0, Kind.MARKER, ec=w.root, marker=MarkerType.PHASE_BEGIN, subject=0, value=0, string=1)

    # the root sleeps until its next bookkeeping round
    root_deadline = b.ts + ticks(platform, 1_000_000)
    b.hc_entry(0, w.root, Hc.CTRL_SM, sel=root_sm_sel, flags=FlagCtrlSm.D, p1=root_deadline)
    b.event(0, Kind.SM_BLOCK, ec=w.root, sm=root_sm, deadline=root_deadline, sc=ids.root_sc)
    w.switch(0, w.root, ids.idle_ec[0], ids.root_sc, ids.idle_sc[0], SwitchReason.BLOCK)

    rows = np.array(chan_rows, dtype=np.int64).reshape(-1, len(Chan._fields))
    chan = Chan(*rows.T)
    order = np.argsort(rows[:, 0], kind="stable").astype(np.int64)
    start_idx = np.searchsorted(rows[order, 0], np.arange(n + 1)).astype(np.int64)
    i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    cpus = Cpus(
        i64(ids.idle_ec), i64(ids.idle_sc), i64(client_ec), i64(client_sc), i64(client_sm), i64(client_sel),
        i64(client_deadline), i64(server), i64(portal), start_idx, order, vec_used.astype(np.int64),
    )  # fmt: skip
    root = i64([w.root, ids.root_sc, root_sm, root_sm_sel, root_deadline, hst, space_sel[CreatePdOp.HST], 0])
    used = {ln.irq for ln in routed}
    spare_irqs = i64([g for g in range(24, X86_NUM_GSI) if g not in used][:64] if mode == MODE_X86_2024 else [])
    return Plan(b, ids, chan, cpus, root, spare_irqs, STRINGS)


def _hva(w: _Builder) -> int:
    w.hva += 1
    return w.hva << 12


def _irq_kind(w: _Builder, ln: Line) -> int:
    if w.x86:
        return int(IrqKind.X86_PIN if ln.wired else IrqKind.X86_MSI)
    return int(IrqKind.ARM_SPI if ln.wired else IrqKind.ARM_LPI)


def _routable(w: _Builder, lines: list[Line]) -> int:
    """How many lines get a driver: all (up to MAX_LINES), within the generation's limits."""
    n = min(len(lines), MAX_LINES)
    if w.api != API_2024 and w.x86:
        n = min(n, w.p.cpus * 200)  # 217 vectors per CPU
    return n


def _assign_2024(w: _Builder, sel: int, flags: int, cpu: int, ln: Line, out: tuple[int, int], ev: Kind | None) -> None:
    b = w.b
    b.hc_entry(0, w.root, Hc.ASSIGN_INT, sel=sel, flags=flags, p1=cpu, p2=ln.source & 0xFFFF)
    if ev is not None:
        b.event(0, ev, ec=w.root, irq=ln.irq, irq_kind=_irq_kind(w, ln), cause=IrqCause.ASSIGN)
    b.hc_exit(0, w.root, Hc.ASSIGN_INT, 0, out_p1=out[0], out_p2=out[1])


def _root_wakes(w: _Builder, root_sm: int, deadline: int) -> None:
    """The root's sleep ends: TIMEOUT on CPU 0 (idle), the root runs again and returns TIMEOUT."""
    b, ids = w.b, w.ids
    b.at(max(b.ts, deadline))
    b.event(0, Kind.TIMEOUT, ec=ids.idle_ec[0], timeout_kind=TimeoutKind.HYPERCALL, object=w.root, deadline=deadline)
    b.event(0, Kind.EC_WAKE, ec=ids.idle_ec[0], woken=w.root, wake_reason=WakeReason.TIMEOUT,
            object=root_sm, target_cpu=0)  # fmt: skip
    w.switch(0, ids.idle_ec[0], w.root, ids.idle_sc[0], ids.root_sc, SwitchReason.WAKE)
    b.hc_exit(0, w.root, Hc.CTRL_SM, Status.TIMEOUT)


def _probe_crash(w: _Builder, start, handler: list[int]) -> None:
    """A loader probe thread faults right after its start: no exception portal, NOVA kills it."""
    b, ids = w.b, w.ids
    cpu = 1 if w.p.cpus > 1 else 0

    def die(ec: int, sc: int) -> None:
        b.event(cpu, Kind.EC_KILL, ec=ec, killed=ec, kill_reason=KillReason.PT_NOT_FOUND)
        w.switch(cpu, ec, ids.idle_ec[cpu], sc, ids.idle_sc[cpu], SwitchReason.KILL)

    start(cpu, CLIENT_PRIO, die)


__all__ = ["ROOT_SEL_ROOT_SC", "Plan", "build_plan", "hc_number"]
