"""Both API generations and both architectures for the common hypercalls, plus the nova-2026-only ones
(create_dc, assign_dev with Device Contexts) and the Arm-only BAD_FTR cases (domain.md 8, 10.1, 12)."""

from __future__ import annotations

import pytest
from test_reference_support import ROOT_EC, ROOT_OBJ, ROOT_PD, ROOT_SC, Trace, arm, check_status, x86

from tracefmt.events import Kind, UpCause
from tracefmt.nova import CreatePdOp, FlagCtrlSm, Hc, Status

S = Status
FREE = 0x100
PLATFORMS = [("x86", "nova-2024"), ("x86", "nova-2026"), ("arm", "nova-2024"), ("arm", "nova-2026")]


def platform(arch: str, api: str):
    return x86(api=api) if arch == "x86" else arm(api=api)


@pytest.mark.parametrize(("arch", "api"), PLATFORMS)
def test_semaphore_round_trip_in_every_generation(arch: str, api: str) -> None:
    """create_sm, up, down: the renumbered hypercalls of nova-2026 decode and replay alike."""
    t = Trace(platform(arch, api))
    sm = t.create(Hc.CREATE_SM, FREE, p1=ROOT_PD, p2=1)
    t.call(Hc.CTRL_SM, None, sel=FREE)
    t.event(Kind.SM_UP, sm=sm, counter=2, woken=0, up_cause=UpCause.HYPERCALL, irq=-1)
    t.b.hc_exit(0, t.ec, Hc.CTRL_SM, S.SUCCESS)
    t.call(Hc.CTRL_SM, S.SUCCESS, sel=FREE, flags=FlagCtrlSm.D | FlagCtrlSm.Z)
    t.call(Hc.CTRL_SC, S.SUCCESS, sel=ROOT_SC, out1=100)
    t.call(Hc.CTRL_EC, S.SUCCESS, sel=ROOT_EC)
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    assert next(o for o in r.snapshot()["objects"] if o["id"] == sm)["counter"] == 0


@pytest.mark.parametrize(("arch", "api"), PLATFORMS)
def test_ctrl_sm_checks_the_capability_before_the_cpu(arch: str, api: str) -> None:
    check_status(
        lambda rec: (t := Trace(platform(arch, api)), t.call(Hc.CTRL_SM, rec, sel=ROOT_PD, flags=1)), S.BAD_CAP
    )


@pytest.mark.parametrize("op", [CreatePdOp.PIO, CreatePdOp.MSR, CreatePdOp.DMA])
def test_arm_has_no_pio_msr_spaces_and_this_machine_no_smmu(op: int) -> None:
    check_status(lambda rec: (t := Trace(arm()), t.call(Hc.CREATE_PD, rec, sel=FREE, flags=op, p1=ROOT_PD)), S.BAD_FTR)


@pytest.mark.parametrize(
    ("pd_sel", "sel", "expected"),
    [(ROOT_PD, FREE, S.SUCCESS), (ROOT_EC, FREE, S.BAD_CAP), (ROOT_PD, ROOT_SC, S.BAD_CAP)],
)
def test_create_dc(pd_sel: int, sel: int, expected: int) -> None:
    def make(rec: int):
        t = Trace(x86(api="nova-2026"))
        oid = t.oid() if rec == S.SUCCESS else 0
        return t, t.call(Hc.CREATE_DC, rec, sel=sel, p1=pd_sel, p2=0x0100, p3=0xFED90000, created=oid)

    check_status(make, expected)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("ok", S.SUCCESS),
        ("no_dc", S.BAD_CAP),
        ("both_null", S.BAD_CAP),
        ("not_dma", S.BAD_CAP),
        ("no_iommu", S.BAD_DEV),
        ("detach", S.SUCCESS),
    ],
)
def test_assign_dev_2026(case: str, expected: int) -> None:
    def make(rec: int):
        t = Trace(x86(api="nova-2026"))
        dmar = 0xFED91000 if case == "no_iommu" else 0xFED90000
        t.create(Hc.CREATE_DC, 0x60, p1=ROOT_PD, p2=0x0100, p3=dmar)
        t.create(Hc.CREATE_PD, 0x80, flags=CreatePdOp.DMA, p1=ROOT_PD)
        dc, old, new = 0x60, 0x99, 0x80
        if case == "no_dc":
            dc = ROOT_PD
        elif case == "both_null":
            new = 0x98
        elif case == "not_dma":
            new = ROOT_OBJ
        elif case == "detach":
            old, new = 0x80, 0x99
        return t, t.call(Hc.ASSIGN_DEV, rec, sel=dc, p1=old, p2=new)

    check_status(make, expected)


def test_assign_dev_2026_records_the_dma_space_of_the_dc() -> None:
    t = Trace(x86(api="nova-2026"))
    dc = t.create(Hc.CREATE_DC, 0x60, p1=ROOT_PD, p2=0x0100, p3=0xFED90000)
    dma = t.create(Hc.CREATE_PD, 0x80, flags=CreatePdOp.DMA, p1=ROOT_PD)
    t.call(Hc.ASSIGN_DEV, S.SUCCESS, sel=0x60, p1=0x99, p2=0x80)
    r = t.run()
    assert r.findings == []
    assert next(o for o in r.snapshot()["objects"] if o["id"] == dc)["dma"] == dma
