"""Interrupts per architecture and generation: assign_int statuses and MSI values, arrival sequences,
acknowledge by ctrl_sm down, impossible arrivals (domain.md 4, 8.1.6, 12; FORMAT.md 4.4).
"""

from __future__ import annotations

import pytest
from test_reference_support import NOVA_OBJ, ROOT_OBJ, ROOT_PD, Trace, arm, check_status, status_findings, x86

from tracefmt.events import IrqCause, IrqKind, Kind, SwitchReason, UpCause, WakeReason
from tracefmt.findings import FindingCode
from tracefmt.nova import FlagAssignInt2024, FlagCreateSm2026, FlagCtrlSm, Hc, Ipi, Status

S = Status
M, T, G = int(FlagAssignInt2024.M), int(FlagAssignInt2024.T), int(FlagAssignInt2024.G)
D = int(FlagCtrlSm.D)
SEL = 0x1000  # where the root keeps its interrupt semaphore


def pull_int(t: Trace, n: int, sel: int = SEL) -> int:
    """nova-2024: copy interrupt SM n from the NOVA space (0x10000 + n) into the root space."""
    t.call(Hc.CTRL_PD, S.SUCCESS, sel=NOVA_OBJ, p1=ROOT_OBJ, p2=(0x10000 + n) << 12, p3=sel << 12 | 0x1F)
    return t.ids.int_sm[n]


def assign(
    t: Trace,
    flags: int,
    cpu: int = 0,
    dev: int = 0,
    out1: int = 0,
    out2: int = 0,
    sel: int = SEL,
    status: int = S.SUCCESS,
) -> int:
    return t.call(Hc.ASSIGN_INT, status, sel=sel, flags=flags, p1=cpu, p2=dev, out1=out1, out2=out2)


def irq_ev(t: Trace, kind: Kind, n: int, ik: IrqKind, cause: IrqCause, cpu: int = 0, ec: int | None = None) -> int:
    return t.event(kind, cpu=cpu, ec=ec, irq=n, irq_kind=ik, cause=cause)


def block_root_on(t: Trace, sm: int, pre: list[tuple] | None = None) -> None:
    """Root downs the interrupt SM (after the acknowledge events ``pre``), blocks, CPU 0 idles."""
    ids = t.ids
    t.call(Hc.CTRL_SM, None, sel=SEL, flags=D)
    for kind, n, ik, cause in pre or []:
        irq_ev(t, kind, n, ik, cause)
    t.event(Kind.SM_BLOCK, sm=sm, deadline=0, sc=ids.root_sc)
    t.event(
        Kind.SCHED_SWITCH,
        ec=ids.idle_ec[0],
        from_ec=ids.root_ec,
        to_ec=ids.idle_ec[0],
        from_sc=ids.root_sc,
        to_sc=ids.idle_sc[0],
        switch_reason=SwitchReason.BLOCK,
    )


def wake_root(t: Trace, sm: int, n: int, cpu: int = 0) -> None:
    ids = t.ids
    cur = ids.idle_ec[cpu]
    t.event(Kind.SM_UP, cpu=cpu, ec=cur, sm=sm, counter=0, woken=ids.root_ec, up_cause=UpCause.INTERRUPT, irq=n)
    t.event(Kind.EC_WAKE, cpu=cpu, ec=cur, woken=ids.root_ec, wake_reason=WakeReason.SM_UP, object=sm, target_cpu=0)
    if cpu != 0:
        t.event(Kind.IPI_SEND, cpu=cpu, ec=cur, target_cpu=0, ipi=Ipi.RRQ)


def root_runs(t: Trace, status: int = S.SUCCESS, ipi: bool = False) -> int:
    ids = t.ids
    if ipi:
        t.event(Kind.IPI_RECV, ec=ids.idle_ec[0], source_cpu=1, ipi=Ipi.RRQ)
    t.event(
        Kind.SCHED_SWITCH,
        ec=ids.root_ec,
        from_ec=ids.idle_ec[0],
        to_ec=ids.root_ec,
        from_sc=ids.idle_sc[0],
        to_sc=ids.root_sc,
        switch_reason=SwitchReason.WAKE,
    )
    return t.b.hc_exit(0, ids.root_ec, Hc.CTRL_SM, status)


def arrive(
    t: Trace, vector: int, n: int, ik: IrqKind, cpu: int = 0, source: int = -1, eid: int = -1, ec: int | None = None
) -> int:
    """IRQ_ARRIVAL; it interrupts the idle EC of that CPU unless ``ec`` says who runs there."""
    cur = t.ids.idle_ec[cpu] if ec is None else ec
    return t.event(Kind.IRQ_ARRIVAL, cpu=cpu, ec=cur, vector=vector, irq=n, source=source, irq_kind=ik, event_id=eid)


# --- x86 nova-2024 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "cpu", "sel", "expected", "out"),
    [
        (16, 0, SEL, S.SUCCESS, (0, 0)),  # IOAPIC pin: no MSI values
        (30, 1, SEL, S.SUCCESS, (0xFEE00018, 30)),  # MSI with remapping (domain.md 12: handle = GSI)
        (30, 2, 0x77, S.BAD_CPU, (0, 0)),  # CPU 2 of 2 before the (empty) capability
        (30, 1, 0x77, S.BAD_CAP, (0, 0)),
        (30, 1, 0x3FFFD, S.BAD_CAP, (0, 0)),  # the root PD is no semaphore
    ],
)
def test_assign_int_2024_x86(n: int, cpu: int, sel: int, expected: int, out: tuple[int, int]) -> None:
    def make(rec: int):
        t = Trace(x86())
        pull_int(t, n)
        o1, o2 = out if rec == S.SUCCESS else (0, 0)
        return t, assign(t, 0, cpu=cpu, out1=o1, out2=o2, sel=sel, status=rec)

    check_status(make, expected)


def test_assign_int_msi_values_without_remapping_and_wrong_values() -> None:
    t = Trace(x86(remapping=False))
    pull_int(t, 0x18)
    assign(t, 0, cpu=1, out1=0xFEE01000, out2=0x38)  # domain.md 12: GSI 0x18 to CPU 1 -> 0xfee01000 / 0x38
    assert t.run().findings == []
    i = assign(t, 0, cpu=1, out1=0xFEE01000, out2=0x39)
    assert status_findings(t.run()) == [(int(FindingCode.OUT_MISMATCH), i, 0x38, 0x39)]


def test_regular_semaphore_cannot_be_assigned() -> None:
    def make(rec: int):
        t = Trace(x86())
        t.create(Hc.CREATE_SM, SEL, p1=ROOT_PD, p2=0)
        return t, assign(t, 0, status=rec)

    check_status(make, S.BAD_CAP)


def _level_pin_cycle(t: Trace) -> int:
    sm = pull_int(t, 16)
    assign(t, T)
    pin = IrqKind.X86_PIN
    block_root_on(t, sm, [(Kind.IRQ_UNMASK, 16, pin, IrqCause.DOWN)])
    arrive(t, 0x30, 16, pin)
    irq_ev(t, Kind.IRQ_MASK, 16, pin, IrqCause.ARRIVAL, ec=t.ids.idle_ec[0])
    wake_root(t, sm, 16)
    irq_ev(t, Kind.IRQ_EOI, 16, pin, IrqCause.ARRIVAL, ec=t.ids.idle_ec[0])
    root_runs(t)
    return sm


def test_x86_level_pin_masked_on_arrival_unmasked_by_down() -> None:
    t = Trace(x86())
    _level_pin_cycle(t)
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    e = next(e for e in r.snapshot()["interrupts"] if e["irq"] == 16)
    assert (e["masked"], e["cpu"], e["flags"]) == (True, 0, T)
    # while masked the pin cannot deliver again
    i = arrive(t, 0x30, 16, IrqKind.X86_PIN, ec=t.ids.root_ec)
    assert [(f.code, f.event) for f in t.run().findings][:1] == [(int(FindingCode.IMPOSSIBLE_ARRIVAL), i)]


def test_x86_level_pin_missing_mask_is_reported() -> None:
    t = Trace(x86())
    sm = pull_int(t, 16)
    assign(t, T)
    pin = IrqKind.X86_PIN
    block_root_on(t, sm, [(Kind.IRQ_UNMASK, 16, pin, IrqCause.DOWN)])
    arrive(t, 0x30, 16, pin)
    i = t.event(
        Kind.SM_UP, ec=t.ids.idle_ec[0], sm=sm, counter=0, woken=t.ids.root_ec, up_cause=UpCause.INTERRUPT, irq=16
    )
    t.event(
        Kind.EC_WAKE, ec=t.ids.idle_ec[0], woken=t.ids.root_ec, wake_reason=WakeReason.SM_UP, object=sm, target_cpu=0
    )
    irq_ev(t, Kind.IRQ_EOI, 16, pin, IrqCause.ARRIVAL, ec=t.ids.idle_ec[0])
    root_runs(t)
    assert [(f.code, f.event, f.detail) for f in t.run().findings] == [
        (int(FindingCode.MISSING_EVENT), i, int(Kind.IRQ_MASK))
    ]


def test_x86_edge_pin_counts_every_edge_and_z_collapses() -> None:
    t = Trace(x86())
    sm = pull_int(t, 16)
    assign(t, 0)  # edge, unmasked
    pin = IrqKind.X86_PIN
    for counter in (1, 2):
        arrive(t, 0x30, 16, pin, cpu=1)
        t.event(
            Kind.SM_UP, cpu=1, ec=t.ids.idle_ec[1], sm=sm, counter=counter, woken=0, up_cause=UpCause.INTERRUPT, irq=16
        )
        irq_ev(t, Kind.IRQ_EOI, 16, pin, IrqCause.ARRIVAL, cpu=1, ec=t.ids.idle_ec[1])
    t.call(Hc.CTRL_SM, S.SUCCESS, sel=SEL, flags=D | FlagCtrlSm.Z)  # no unmask for an edge pin
    r = t.run()
    assert r.findings == []
    assert next(o for o in r.snapshot()["objects"] if o["id"] == sm)["counter"] == 0


def test_x86_msi_on_another_cpu_wakes_remotely() -> None:
    t = Trace(x86())
    sm = pull_int(t, 30)
    assign(t, 0, cpu=0, out1=0xFEE00018, out2=30)
    block_root_on(t, sm)  # MSIs: nothing to unmask
    arrive(t, 0x20 + 30, 30, IrqKind.X86_MSI, cpu=1)  # any CPU receiving the vector ups the SM
    wake_root(t, sm, 30, cpu=1)
    irq_ev(t, Kind.IRQ_EOI, 30, IrqKind.X86_MSI, IrqCause.ARRIVAL, cpu=1, ec=t.ids.idle_ec[1])
    root_runs(t, ipi=True)
    assert t.run().findings == []


def test_down_on_the_wrong_cpu_is_bad_cpu_without_acknowledge() -> None:
    def make(rec: int):
        t = Trace(x86())
        pull_int(t, 16)
        assign(t, T, cpu=1)
        return t, t.call(Hc.CTRL_SM, rec, sel=SEL, flags=D)

    check_status(make, S.BAD_CPU)


def test_masked_pin_cannot_arrive_and_down_unmasks_a_level_pin_anyway() -> None:
    t = Trace(x86())
    sm = pull_int(t, 16)
    assign(t, M | T)
    i = arrive(t, 0x30, 16, IrqKind.X86_PIN, ec=t.ids.root_ec)
    r = t.run()
    assert [(f.code, f.event) for f in r.findings][:1] == [(int(FindingCode.IMPOSSIBLE_ARRIVAL), i)]
    t2 = Trace(x86())
    sm = pull_int(t2, 16)
    assign(t2, M | T)
    block_root_on(t2, sm, [(Kind.IRQ_UNMASK, 16, IrqKind.X86_PIN, IrqCause.DOWN)])
    assert t2.run().findings == []


def test_arrival_irq_word_must_match_the_vector() -> None:
    t = Trace(x86())
    sm = pull_int(t, 30)
    assign(t, 0, out1=0xFEE00018, out2=30)
    i = arrive(t, 0x20 + 30, 31, IrqKind.X86_MSI, ec=t.ids.root_ec)
    t.event(Kind.SM_UP, ec=t.ids.root_ec, sm=sm, counter=1, woken=0, up_cause=UpCause.INTERRUPT, irq=30)
    irq_ev(t, Kind.IRQ_EOI, 30, IrqKind.X86_MSI, IrqCause.ARRIVAL, ec=t.ids.root_ec)
    assert [(f.code, f.event, f.detail) for f in t.run().findings] == [(int(FindingCode.WORD_MISMATCH), i, 1)]


# --- Arm nova-2024 ---------------------------------------------------------------------------------------------------


def test_arm_spi_eoi_then_up_and_deactivate_on_down() -> None:
    t = Trace(arm())
    sm = pull_int(t, 2)
    assign(t, 0)
    spi = IrqKind.ARM_SPI
    block_root_on(t, sm, [(Kind.IRQ_DEACTIVATE, 2, spi, IrqCause.DOWN)])
    arrive(t, 34, 2, spi)
    irq_ev(t, Kind.IRQ_EOI, 2, spi, IrqCause.ARRIVAL, ec=t.ids.idle_ec[0])  # priority drop first
    wake_root(t, sm, 2)
    root_runs(t)
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    assert next(e for e in r.snapshot()["interrupts"] if e["irq"] == 2)["active"] is True
    i = arrive(t, 34, 2, spi, ec=t.ids.root_ec)  # still active: the GIC cannot deliver it again
    assert [(f.code, f.event) for f in t.run().findings][:1] == [(int(FindingCode.IMPOSSIBLE_ARRIVAL), i)]


def test_arm_guest_owned_spi_is_not_deactivated_by_down() -> None:
    t = Trace(arm())
    sm = pull_int(t, 2)
    assign(t, G)
    block_root_on(t, sm)  # G=1: no IRQ_DEACTIVATE
    assert t.run().findings == []
    t2 = Trace(arm())
    sm = pull_int(t2, 2)
    assign(t2, G)
    block_root_on(t2, sm, [(Kind.IRQ_DEACTIVATE, 2, IrqKind.ARM_SPI, IrqCause.DOWN)])
    assert [f.code for f in t2.run().findings] == [int(FindingCode.UNEXPECTED_EVENT)]


def test_arm_assign_int_has_no_msi_values_and_checks_cpu() -> None:
    def make(rec: int):
        t = Trace(arm())
        pull_int(t, 2)
        return t, assign(t, 0, cpu=1, status=rec)

    check_status(make, S.SUCCESS)

    def make2(rec: int):
        t = Trace(arm())
        pull_int(t, 2)
        return t, assign(t, 0, cpu=7, status=rec)

    check_status(make2, S.BAD_CPU)


# --- nova-2026 ----------------------------------------------------------------------------------------------------


def int_sm_2026(t: Trace, intid: int, sel: int = SEL, status: int = S.SUCCESS, pd: int = ROOT_PD) -> int:
    oid = t.oid() if status == S.SUCCESS else 0
    t.call(Hc.CREATE_SM, status, sel=sel, flags=FlagCreateSm2026.I, p1=pd, p2=intid, created=oid)
    return oid


def dc_2026(t: Trace, sel: int, topo: int, dmar: int = 0xFED90000, intr: int = 0) -> int:
    return t.create(Hc.CREATE_DC, sel, p1=ROOT_PD, p2=topo, p3=dmar, p4=intr)


def assign26(
    t: Trace,
    attach: bool,
    sel: int,
    dc: int,
    cfg: int,
    vec: int,
    cpu: int,
    idx: int = 0,
    status: int = S.SUCCESS,
    out: tuple[int, int] = (0, 0),
) -> int:
    p2 = cfg | vec << 8 | cpu << 16 | idx << 32
    return t.call(Hc.ASSIGN_INT, status, sel=sel, flags=int(attach), p1=dc, p2=p2, out1=out[0], out2=out[1])


@pytest.mark.parametrize(
    ("intid", "delegated", "expected"),
    [(30, False, S.SUCCESS), (300, False, S.BAD_PAR), (30, True, S.BAD_CAP)],
)
def test_create_sm_interrupt_2026(intid: int, delegated: bool, expected: int) -> None:
    def make(rec: int):
        t = Trace(x86(api="nova-2026"))
        pd = ROOT_PD
        if delegated:  # a PD capability without the DC permission (0x20)
            t.call(Hc.CTRL_PD, S.SUCCESS, sel=ROOT_OBJ, p1=ROOT_OBJ, p2=ROOT_PD << 12, p3=0x50 << 12 | 0x1F)
            pd = 0x50
        oid = t.oid() if rec == S.SUCCESS else 0
        return t, t.call(Hc.CREATE_SM, rec, sel=SEL, flags=FlagCreateSm2026.I, p1=pd, p2=intid, created=oid)

    check_status(make, expected)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("ok", S.SUCCESS),
        ("cpu", S.BAD_CPU),
        ("regular", S.BAD_CAP),
        ("no_dc", S.BAD_CAP),  # an MSI needs a Device Context
        ("vec", S.BAD_PAR),  # vector >= 217
        ("idx", S.BAD_PAR),  # remapped MSI index >= 256
        ("segment", S.BAD_DEV),  # DC in segment 1, interrupt in segment 0
        ("cfg", S.BAD_PAR),  # MSIs take no cfg bits
        ("taken", S.ABORTED),  # slot (0, 5) holds another SM
    ],
)
def test_assign_int_2026_x86_msi(case: str, expected: int) -> None:
    def make(rec: int):
        t = Trace(x86(api="nova-2026"))
        int_sm_2026(t, 30)
        dc_2026(t, 0x60, topo=0x10100 if case == "segment" else 0x0100)
        sel, dc, cfg, vec, cpu, idx = SEL, 0x60, 0, 5, 0, 3
        if case == "cpu":
            cpu, dc = 2, 0x99
        elif case == "regular":
            t.create(Hc.CREATE_SM, 0x70, p1=ROOT_PD, p2=0)
            sel = 0x70
        elif case == "no_dc":
            dc = 0x99
        elif case == "vec":
            vec = 217
        elif case == "idx":
            idx = 256
        elif case == "cfg":
            cfg = 1
        elif case == "taken":
            int_sm_2026(t, 31, sel=0x71)
            assign26(t, True, 0x71, 0x60, 0, 5, 0, idx=4, out=(0xFEE00018, 31))
        out = (0xFEE00018, 30) if rec == S.SUCCESS else (0, 0)  # Intel remapping: data = GSI
        return t, assign26(t, True, sel, dc, cfg, vec, cpu, idx, status=rec, out=out)

    check_status(make, expected)


def test_2026_x86_vector_tables_are_per_cpu() -> None:
    t = Trace(x86(api="nova-2026"))
    sm = int_sm_2026(t, 30)
    dc_2026(t, 0x60, topo=0x0100)
    assign26(t, True, SEL, 0x60, 0, 5, 1, idx=3, out=(0xFEE00018, 30))  # CPU 1, vector index 5
    arrive(t, 0x25, 30, IrqKind.X86_MSI, cpu=1)
    t.event(Kind.SM_UP, cpu=1, ec=t.ids.idle_ec[1], sm=sm, counter=1, woken=0, up_cause=UpCause.INTERRUPT, irq=30)
    irq_ev(t, Kind.IRQ_EOI, 30, IrqKind.X86_MSI, IrqCause.ARRIVAL, cpu=1, ec=t.ids.idle_ec[1])
    arrive(t, 0x25, -1, IrqKind.X86_MSI, cpu=0, ec=t.ids.root_ec)  # the same vector on CPU 0: nothing attached there
    irq_ev(t, Kind.IRQ_EOI, -1, IrqKind.X86_MSI, IrqCause.ARRIVAL, cpu=0, ec=t.ids.root_ec)
    # ctrl_sm down from CPU 0: no BAD_CPU in nova-2026, MSIs need no acknowledge
    t.call(Hc.CTRL_SM, S.SUCCESS, sel=SEL, flags=D)
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    assert r.snapshot()["vectors"] == [{"cpu": 1, "vec": 5, "sm": sm}]
    assign26(t, False, SEL, 0x60, 0, 5, 0, idx=3, status=S.ABORTED)  # detach where it is not attached
    assign26(t, False, SEL, 0x60, 0, 5, 1, idx=3)
    r = t.run()
    assert r.findings == [] and r.snapshot()["vectors"] == []


def test_2026_x86_level_pin_directed_eoi() -> None:
    t = Trace(x86(api="nova-2026"))
    sm = int_sm_2026(t, 16)
    assign26(t, True, SEL, 0x99, T, 7, 0)  # a pin takes no DC; cfg T = level
    pin = IrqKind.X86_PIN
    block_root_on(t, sm, [(Kind.IRQ_DEACTIVATE, 16, pin, IrqCause.DOWN)])
    arrive(t, 0x27, 16, pin)
    wake_root(t, sm, 16)
    irq_ev(t, Kind.IRQ_EOI, 16, pin, IrqCause.ARRIVAL, ec=t.ids.idle_ec[0])
    root_runs(t)
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    i = arrive(t, 0x27, 16, pin, ec=t.ids.root_ec)  # awaiting its directed EOI: cannot arrive again
    assert [(f.code, f.event) for f in t.run().findings][:1] == [(int(FindingCode.IMPOSSIBLE_ARRIVAL), i)]


def test_2026_arm_lpi_through_the_its() -> None:
    t = Trace(arm(api="nova-2026"))
    sm = int_sm_2026(t, 8192)
    dc_2026(t, 0x60, topo=0x10 << 32 | 0x10, dmar=0, intr=0x08080000)
    assign26(t, True, SEL, 0x60, 0, 0, 1, idx=3, out=(0x08080000 + 0x10040, 3))
    arrive(t, 8192, 8192, IrqKind.ARM_LPI, cpu=1, source=0x10, eid=3)
    t.event(Kind.SM_UP, cpu=1, ec=t.ids.idle_ec[1], sm=sm, counter=1, woken=0, up_cause=UpCause.INTERRUPT, irq=8192)
    irq_ev(t, Kind.IRQ_EOI, 8192, IrqKind.ARM_LPI, IrqCause.ARRIVAL, cpu=1, ec=t.ids.idle_ec[1])
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    assert r.snapshot()["its"] == [{"did": 0x10, "eid": 3, "intid": 8192, "cpu": 1}]
    i = arrive(t, 8192, 8192, IrqKind.ARM_LPI, cpu=1, source=0x10, eid=4)  # no ITT entry for event 4
    assert [(f.code, f.event) for f in t.run().findings][:1] == [(int(FindingCode.IMPOSSIBLE_ARRIVAL), i)]


def test_2026_arm_spi_needs_no_dc_and_is_deactivated_by_down() -> None:
    t = Trace(arm(api="nova-2026"))
    sm = int_sm_2026(t, 34)
    assign26(t, True, SEL, 0x99, 0, 0, 0)
    spi = IrqKind.ARM_SPI
    block_root_on(t, sm, [(Kind.IRQ_DEACTIVATE, 34, spi, IrqCause.DOWN)])
    arrive(t, 34, 34, spi)
    wake_root(t, sm, 34)
    irq_ev(t, Kind.IRQ_EOI, 34, spi, IrqCause.ARRIVAL, ec=t.ids.idle_ec[0])
    root_runs(t)
    assert t.run().findings == []
