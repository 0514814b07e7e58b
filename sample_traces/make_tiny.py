"""Build sample_traces/x86-tiny.parquet: a hand-written x86 nova-2024 trace, event by event.

Two CPUs. The kernel announces its boot objects; the root PD creates a semaphore, fails to create a second
one on the same selector (BAD_CAP: occupied), pulls interrupt semaphore GSI 16 into its object space,
routes GSI 16 (a level-triggered IOAPIC pin) to CPU 0, and waits for it. The interrupt arrives: the pin is
masked, the semaphore upped, the root EC woken and run; its next down acknowledges (unmasks) the pin. CPU 1
idles, receives an IPI and loses three trace records on the way (a recorded RECORDER_LOSS).

Run:  python sample_traces/make_tiny.py   (rewrites x86-tiny.parquet next to this file)
"""

from __future__ import annotations

from pathlib import Path

from tracefmt.builder import TraceBuilder
from tracefmt.events import IrqCause, IrqKind, Kind, MarkerType, SwitchReason, UpCause, WakeReason
from tracefmt.nova import (
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
    ROOT_SEL_NOVA_OBJ,
    ROOT_SEL_ROOT_EC,
    ROOT_SEL_ROOT_OBJ,
    ROOT_SEL_ROOT_PD,
    ROOT_SEL_ROOT_SC,
    X86_NUM_GSI,
    X86_VEC_GSI,
    EcSubtype,
    FlagAssignInt2024,
    FlagCtrlSm,
    Hc,
    Ipi,
    ObjType,
    PdSubtype,
    SmSubtype,
    Status,
)
from tracefmt.platform import example_x86

OUT = Path(__file__).with_name("x86-tiny.parquet")

# kernel object addresses (slab-like, 32-byte aligned)
K = 0xFFFF_8000_0010_0000
NOVA_OBJ, NOVA_HST, NOVA_PIO, NOVA_MSR = K + 0x000, K + 0x040, K + 0x080, K + 0x0C0
ROOT_OBJ, ROOT_HST, ROOT_PIO, ROOT_PD = K + 0x100, K + 0x140, K + 0x180, K + 0x1C0
ROOT_EC, ROOT_SC = K + 0x200, K + 0x240
IDLE_EC = (K + 0x300, K + 0x340)
IDLE_SC = (K + 0x380, K + 0x3C0)
CONSOLE_SM = K + 0x400
INT_SM0 = K + 0x10000  # interrupt semaphore n at INT_SM0 + 0x40 * n
NEW_SM = K + 0x20000
DUP_SM = K + 0x20040  # created, then discarded: the selector was occupied

GSI = 16
INT_SM = INT_SM0 + 0x40 * GSI
ROOT_SEL_INT = 0x100  # where the root keeps its copy of the interrupt semaphore
ROOT_SEL_SM = 0x40


def typ(t: ObjType, sub: int) -> int:
    return int(t) << 8 | int(sub)


def build() -> TraceBuilder:
    b = TraceBuilder(example_x86(cpus=2), start_ts=10_000, tick=50)
    created = Kind.OBJ_CREATED

    # --- boot: the kernel announces the objects it made itself (FORMAT.md 4.1, domain.md 3.4)
    for obj, sub, sel in (
        (NOVA_OBJ, PdSubtype.OBJ, NOVA_SEL_NOVA_OBJ),
        (NOVA_HST, PdSubtype.HST, NOVA_SEL_NOVA_HST),
        (NOVA_PIO, PdSubtype.PIO, NOVA_SEL_NOVA_PIO),
        (NOVA_MSR, PdSubtype.MSR, NOVA_SEL_NOVA_MSR),
        (ROOT_OBJ, PdSubtype.OBJ, NOVA_SEL_ROOT_OBJ),
        (ROOT_HST, PdSubtype.HST, NOVA_SEL_ROOT_HST),
        (ROOT_PIO, PdSubtype.PIO, NOVA_SEL_ROOT_PIO),
        (ROOT_PD, PdSubtype.PD, NOVA_SEL_ROOT_PD),
    ):
        b.event(0, created, object=obj, type=typ(ObjType.PD, sub), selector=sel, owner=0)
    b.event(0, created, object=CONSOLE_SM, type=typ(ObjType.SM, SmSubtype.REG), selector=NOVA_SEL_CONSOLE_SM)
    for n in range(X86_NUM_GSI):
        b.event(
            0,
            created,
            object=INT_SM0 + 0x40 * n,
            type=typ(ObjType.SM, SmSubtype.INT),
            selector=NOVA_SEL_INT_BASE + n,
            detail=n,
        )
    for cpu in (0, 1):
        b.event(cpu, created, object=IDLE_EC[cpu], type=typ(ObjType.EC, EcSubtype.GLOBAL), selector=-1, detail=cpu)
        b.event(cpu, created, object=IDLE_SC[cpu], type=typ(ObjType.SC, 0), selector=cpu, detail=cpu)
    b.event(
        0, created, object=ROOT_EC, type=typ(ObjType.EC, EcSubtype.GLOBAL), selector=ROOT_SEL_ROOT_EC, owner=ROOT_PD
    )
    b.event(0, created, object=ROOT_SC, type=typ(ObjType.SC, 0), selector=ROOT_SEL_ROOT_SC, owner=ROOT_PD)
    b.event(
        1,
        Kind.SCHED_SWITCH,
        ec=IDLE_EC[1],
        from_ec=0,
        to_ec=IDLE_EC[1],
        from_sc=0,
        to_sc=IDLE_SC[1],
        switch_reason=SwitchReason.WAKE,
    )
    b.event(
        0,
        Kind.SCHED_SWITCH,
        ec=ROOT_EC,
        from_ec=0,
        to_ec=ROOT_EC,
        from_sc=0,
        to_sc=ROOT_SC,
        switch_reason=SwitchReason.WAKE,
    )

    # --- root: create a semaphore, then try the same selector again
    b.hc_entry(0, ROOT_EC, Hc.CREATE_SM, sel=ROOT_SEL_SM, p1=ROOT_SEL_ROOT_PD, p2=1)
    b.event(
        0,
        created,
        ec=ROOT_EC,
        object=NEW_SM,
        type=typ(ObjType.SM, SmSubtype.REG),
        selector=ROOT_SEL_SM,
        owner=ROOT_PD,
        detail=1,
    )
    b.hc_exit(0, ROOT_EC, Hc.CREATE_SM, Status.SUCCESS, created=NEW_SM)
    b.hc_entry(0, ROOT_EC, Hc.CREATE_SM, sel=ROOT_SEL_SM, p1=ROOT_SEL_ROOT_PD, p2=0)
    b.hc_exit(0, ROOT_EC, Hc.CREATE_SM, Status.BAD_CAP)  # selector occupied: detected last (domain.md 2.3)

    # --- pull interrupt semaphore GSI 16 from the NOVA object space (order 0, all permissions)
    b.hc_entry(
        0,
        ROOT_EC,
        Hc.CTRL_PD,
        sel=ROOT_SEL_NOVA_OBJ,
        p1=ROOT_SEL_ROOT_OBJ,
        p2=(NOVA_SEL_INT_BASE + GSI) << 12 | 0,
        p3=ROOT_SEL_INT << 12 | 0x1F,
    )
    b.hc_exit(0, ROOT_EC, Hc.CTRL_PD, Status.SUCCESS)

    # --- route GSI 16: level, active-low, to CPU 0 (pins return MSI address/data 0/0)
    level_low = FlagAssignInt2024.T | FlagAssignInt2024.P
    b.hc_entry(0, ROOT_EC, Hc.ASSIGN_INT, sel=ROOT_SEL_INT, flags=level_low, p1=0, p2=0x00FA)
    b.hc_exit(0, ROOT_EC, Hc.ASSIGN_INT, Status.SUCCESS, out_p1=0, out_p2=0)

    # --- the driver (root) expects the interrupt and waits: down unmasks the level pin first
    b.event(0, Kind.MARKER, ec=ROOT_EC, marker=MarkerType.EXPECT_IRQ, subject=GSI, value=b.ts + 10_000, string=0)
    b.hc_entry(0, ROOT_EC, Hc.CTRL_SM, sel=ROOT_SEL_INT, flags=FlagCtrlSm.D, p1=0)
    b.event(0, Kind.IRQ_UNMASK, ec=ROOT_EC, irq=GSI, irq_kind=IrqKind.X86_PIN, cause=IrqCause.DOWN)
    b.event(0, Kind.SM_BLOCK, ec=ROOT_EC, sm=INT_SM, deadline=0, sc=ROOT_SC)
    b.event(
        0,
        Kind.SCHED_SWITCH,
        ec=IDLE_EC[0],
        from_ec=ROOT_EC,
        to_ec=IDLE_EC[0],
        from_sc=ROOT_SC,
        to_sc=IDLE_SC[0],
        switch_reason=SwitchReason.BLOCK,
    )

    # --- CPU 1 drops three records, says so, and takes an RKE IPI
    b.skip_seq(1, 3)
    b.event(1, Kind.RECORDER_LOSS, ec=IDLE_EC[1], lost=3, first_ts=b.ts - 40, last_ts=b.ts - 10, first_seq=b.seq[1] - 3)
    b.event(1, Kind.IPI_RECV, ec=IDLE_EC[1], source_cpu=0, ipi=Ipi.RKE)

    # --- the interrupt: vector 0x20 + GSI on CPU 0
    b.at(b.ts + 5_000)
    b.event(
        0,
        Kind.IRQ_ARRIVAL,
        ec=IDLE_EC[0],
        vector=X86_VEC_GSI + GSI,
        irq=GSI,
        source=0x00F8,
        irq_kind=IrqKind.X86_PIN,
        event_id=-1,
    )
    b.event(0, Kind.IRQ_MASK, ec=IDLE_EC[0], irq=GSI, irq_kind=IrqKind.X86_PIN, cause=IrqCause.ARRIVAL)
    b.event(0, Kind.SM_UP, ec=IDLE_EC[0], sm=INT_SM, counter=0, woken=ROOT_EC, up_cause=UpCause.INTERRUPT, irq=GSI)
    b.event(0, Kind.EC_WAKE, ec=IDLE_EC[0], woken=ROOT_EC, wake_reason=WakeReason.SM_UP, object=INT_SM, target_cpu=0)
    b.event(0, Kind.IRQ_EOI, ec=IDLE_EC[0], irq=GSI, irq_kind=IrqKind.X86_PIN, cause=IrqCause.ARRIVAL)
    b.event(
        0,
        Kind.SCHED_SWITCH,
        ec=ROOT_EC,
        from_ec=IDLE_EC[0],
        to_ec=ROOT_EC,
        from_sc=IDLE_SC[0],
        to_sc=ROOT_SC,
        switch_reason=SwitchReason.WAKE,
    )
    b.hc_exit(0, ROOT_EC, Hc.CTRL_SM, Status.SUCCESS)

    # --- acknowledge and wait for the next one: down unmasks the pin again, then blocks
    b.hc_entry(0, ROOT_EC, Hc.CTRL_SM, sel=ROOT_SEL_INT, flags=FlagCtrlSm.D, p1=0)
    b.event(0, Kind.IRQ_UNMASK, ec=ROOT_EC, irq=GSI, irq_kind=IrqKind.X86_PIN, cause=IrqCause.DOWN)
    b.event(0, Kind.SM_BLOCK, ec=ROOT_EC, sm=INT_SM, deadline=0, sc=ROOT_SC)
    b.event(
        0,
        Kind.SCHED_SWITCH,
        ec=IDLE_EC[0],
        from_ec=ROOT_EC,
        to_ec=IDLE_EC[0],
        from_sc=ROOT_SC,
        to_sc=IDLE_SC[0],
        switch_reason=SwitchReason.BLOCK,
    )
    return b


def main() -> None:
    b = build()
    b.write(
        OUT,
        provenance={"capture": {"source": "hand-built", "tool": "sample_traces/make_tiny.py"}},
        strings=("GSI 16 expected by the AHCI driver",),
    )
    print(f"wrote {OUT} ({len(b.rows)} events)")


if __name__ == "__main__":
    main()
