"""ctrl_pd (delegation), ctrl_ec, ctrl_sc, ctrl_pt, ctrl_hw, assign_dev, reserved: statuses and effects.

Hand-derived from domain.md 2.4 (0x7-0xe), 3.3 (delegation semantics) and B24 src/syscall.cpp.
"""

from __future__ import annotations

import pytest
from test_reference_support import (
    NOVA_OBJ,
    ROOT_EC,
    ROOT_OBJ,
    ROOT_PD,
    ROOT_SC,
    Trace,
    arm,
    check_status,
    enter_local,
    status_findings,
    x86,
)

from tracefmt.findings import FindingCode
from tracefmt.nova import (
    NOVA_SEL_NOVA_HST,
    NOVA_SEL_ROOT_HST,
    NOVA_SEL_ROOT_PIO,
    CreatePdOp,
    CtrlHwOp,
    Hc,
    Status,
)

S = Status
FREE = 0x100


def ctrl_pd(
    t: Trace, rec: int, src: int, dst: int, ssb: int, dsb: int, order: int = 0, pmm: int = 0x1F, mad: int = 0
) -> int:
    return t.call(Hc.CTRL_PD, rec, sel=src, p1=dst, p2=ssb << 12 | order, p3=dsb << 12 | pmm, p4=mad)


def caps(t: Trace) -> dict[tuple[int, int], tuple[int | None, int | None]]:
    return {(c["space"], c["sel"]): (c["obj"], c["perms"]) for c in t.run().snapshot()["caps"]}


def mk(body, platform=None):
    def make(rec: int):
        t = Trace(platform or x86())
        return t, body(t, rec)

    return make


# --- ctrl_pd -----------------------------------------------------------------------------------------------------


def _pull(t: Trace, nova_sel: int, dst: int) -> None:
    """Root copies a capability out of the NOVA object space (its SELNUM-1 has TAKE)."""
    ctrl_pd(t, S.SUCCESS, NOVA_OBJ, ROOT_OBJ, nova_sel, dst)


@pytest.mark.parametrize(
    ("setup", "src", "dst", "ssb", "dsb", "order", "mad", "expected"),
    [
        (None, FREE, FREE, 1, 0, 1, 0, S.BAD_PAR),  # misaligned, checked before the (null) capabilities
        (None, ROOT_OBJ, ROOT_OBJ, 0, 3, 1, 0, S.BAD_PAR),  # dsb misaligned to the order
        (None, FREE, ROOT_OBJ, 0, 0x60, 0, 0, S.BAD_CAP),  # null source
        (None, ROOT_OBJ, NOVA_OBJ, 0, 0x60, 0, 0, S.BAD_CAP),  # NOVA OBJ has TAKE only: no GRANT
        (None, ROOT_PD, ROOT_OBJ, 0, 0x60, 0, 0, S.BAD_CAP),  # a PD capability is not a space
        (None, ROOT_OBJ, ROOT_OBJ, 0x3FE00, 0x200, 9, 0, S.SUCCESS),  # ends exactly at 2^18
        (None, ROOT_OBJ, ROOT_OBJ, 0, 1 << 18, 0, 0, S.BAD_PAR),  # range beyond 2^18: no aliasing here
        ("hst", 0x70, 0x70, 0x10, 0x400, 4, 0, S.SUCCESS),
        ("hst", 0x70, 0x70, 0, 1 << 35, 0, 0, S.BAD_PAR),  # beyond the x86 HST (2^35 pages)
        ("hst", 0x70, ROOT_OBJ, 0, 0x60, 0, 0, S.BAD_CAP),  # memory into an object space
        ("nova_hst", 0x71, 0x70, 0x100, 0x100, 0, 5, S.BAD_PAR),  # NOVA HST source: invalid MAD (cache 5)
        ("nova_hst", 0x71, 0x70, 0x100, 0x100, 0, 0, S.SUCCESS),
        ("pio", 0x72, 0x72, 0x60, 0x70, 4, 0, S.BAD_PAR),  # PIO needs ssb == dsb
        ("pio", 0x72, 0x72, 0x60, 0x60, 4, 0, S.SUCCESS),
        ("pio", 0x72, 0x72, 0, 0, 17, 0, S.BAD_PAR),  # beyond port 0xffff
        ("pio", 0x72, ROOT_OBJ, 0x60, 0x60, 0, 0, S.BAD_CAP),  # PIO -> OBJ
        ("msr", 0x73, 0x73, 0x10, 0x10, 0, 0, S.SUCCESS),
        ("msr", 0x73, 0x73, 0x2000, 0x2000, 0, 0, S.BAD_PAR),  # between the two MSR ranges
        ("msr", 0x73, 0x73, 0xC0000000, 0xC0000000, 4, 0, S.SUCCESS),
    ],
)
def test_ctrl_pd_statuses(setup, src, dst, ssb, dsb, order, mad, expected) -> None:
    def body(t: Trace, rec: int) -> int:
        if setup == "hst":
            _pull(t, NOVA_SEL_ROOT_HST, 0x70)
        elif setup == "nova_hst":
            _pull(t, NOVA_SEL_ROOT_HST, 0x70)
            _pull(t, NOVA_SEL_NOVA_HST, 0x71)
        elif setup == "pio":
            _pull(t, NOVA_SEL_ROOT_PIO, 0x72)
        elif setup == "msr":
            t.create(Hc.CREATE_PD, 0x73, flags=CreatePdOp.MSR, p1=ROOT_PD)
        return ctrl_pd(t, rec, src, dst, ssb, dsb, order, mad=mad)

    check_status(mk(body), expected)


def test_ctrl_pd_take_is_required_on_the_source() -> None:
    def body(t: Trace, rec: int) -> int:
        ctrl_pd(t, S.SUCCESS, ROOT_OBJ, ROOT_OBJ, ROOT_OBJ, 0x60, pmm=0x1)  # root OBJ with GRANT only
        return ctrl_pd(t, rec, 0x60, ROOT_OBJ, ROOT_PD, 0x61)

    check_status(mk(body), S.BAD_CAP)


def test_ctrl_pd_copies_masks_and_revokes() -> None:
    t = Trace(x86())
    ctrl_pd(t, S.SUCCESS, NOVA_OBJ, ROOT_OBJ, 0x10000, 0x1000, order=4)  # interrupt SMs 0..15
    ctrl_pd(t, S.SUCCESS, ROOT_OBJ, ROOT_OBJ, ROOT_PD, 0x2000, pmm=0x3)  # root PD with PD+EC only
    ctrl_pd(t, S.SUCCESS, ROOT_OBJ, ROOT_OBJ, ROOT_EC, 0x2001, pmm=0x2)  # EC has no 0x2 bit: nothing left
    ctrl_pd(t, S.SUCCESS, ROOT_OBJ, ROOT_OBJ, FREE, 0x1003)  # empty source: slot 0x1003 revoked
    c = caps(t)
    r = t.ids.root_obj
    assert c[(r, 0x1000)] == (t.ids.int_sm[0], 0x12)
    assert c[(r, 0x100F)] == (t.ids.int_sm[15], 0x12)
    assert (r, 0x1003) not in c
    assert (r, 0x1010) not in c
    assert c[(r, 0x2000)] == (t.ids.root_pd, 0x3)
    assert (r, 0x2001) not in c
    assert t.run().findings == []


def test_ctrl_pd_partial_failure_makes_the_range_unknown() -> None:
    t = Trace(x86())
    ctrl_pd(t, S.MEM_CAP, NOVA_OBJ, ROOT_OBJ, 0x10000, 0x1000, order=4)
    r = t.run()
    assert r.findings == []
    space = next(o for o in r.snapshot()["objects"] if o["id"] == t.ids.root_obj)
    assert space["unknown_ranges"] == [[0x1000, 0x1010]]
    # a later use of an unknown slot cannot be judged: any status is accepted
    t.call(Hc.ASSIGN_INT, S.BAD_CAP, sel=0x1005, p1=0)
    t.call(Hc.ASSIGN_INT, S.SUCCESS, sel=0x1006, p1=0, out1=0, out2=0)
    assert t.run().findings == []


# --- ctrl_ec / ctrl_sc / ctrl_pt -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sel", "expected"), [(ROOT_EC, S.SUCCESS), (FREE, S.BAD_CAP), (ROOT_SC, S.BAD_CAP)])
def test_ctrl_ec_statuses(sel: int, expected: int) -> None:
    check_status(mk(lambda t, rec: t.call(Hc.CTRL_EC, rec, sel=sel)), expected)


def test_ctrl_ec_sets_the_recall_flag() -> None:
    t = Trace(x86())
    t.call(Hc.CTRL_EC, S.SUCCESS, sel=ROOT_EC, flags=1)
    ec = next(o for o in t.run().snapshot()["objects"] if o["id"] == t.ids.root_ec)
    assert ec["recall"] is True


@pytest.mark.parametrize(("sel", "expected"), [(ROOT_SC, S.SUCCESS), (FREE, S.BAD_CAP), (ROOT_EC, S.BAD_CAP)])
def test_ctrl_sc_statuses(sel: int, expected: int) -> None:
    check_status(mk(lambda t, rec: t.call(Hc.CTRL_SC, rec, sel=sel, out1=1234)), expected)


def test_ctrl_sc_consumed_time_never_decreases() -> None:
    t = Trace(x86())
    t.call(Hc.CTRL_SC, S.SUCCESS, sel=ROOT_SC, out1=5000)
    t.call(Hc.CTRL_SC, S.SUCCESS, sel=ROOT_SC, out1=5000)
    assert t.run().findings == []
    i = t.call(Hc.CTRL_SC, S.SUCCESS, sel=ROOT_SC, out1=4000)
    assert status_findings(t.run()) == [(int(FindingCode.OUT_MISMATCH), i, 5000, 4000)]


def test_ctrl_pt_statuses_and_effect() -> None:
    def body(t: Trace, rec: int) -> int:
        t.create(Hc.CREATE_EC, 0x310, p1=ROOT_PD, p2=0x2000)
        t.create(Hc.CREATE_PT, 0x311, p1=ROOT_PD, p2=0x310, p3=0x4000)
        return t.call(Hc.CTRL_PT, rec, sel=0x311, p1=0x77, p2=0x1FF)

    check_status(mk(body), S.SUCCESS)
    t, _ = mk(body)(S.SUCCESS)
    pt = next(o for o in t.run().snapshot()["objects"] if o["type"] == "PT")
    assert (pt["pid"], pt["mtd"], pt["ip"]) == (0x77, 0x1FF, 0x4000)

    def body2(t: Trace, rec: int) -> int:
        t.create(Hc.CREATE_EC, 0x310, p1=ROOT_PD, p2=0x2000)
        t.create(Hc.CREATE_PT, 0x311, p1=ROOT_PD, p2=0x310, p3=0x4000)
        ctrl_pd(t, S.SUCCESS, ROOT_OBJ, ROOT_OBJ, 0x311, 0x312, pmm=0x6)  # CALL + EVENT, no CTRL
        return t.call(Hc.CTRL_PT, rec, sel=0x312, p1=1)

    check_status(mk(body2), S.BAD_CAP)


# --- ctrl_hw, assign_dev, reserved -----------------------------------------------------------------------------------


def test_ctrl_hw_from_outside_the_root_is_bad_hyp() -> None:
    def body(t: Trace, rec: int) -> int:
        enter_local(t)
        return t.call(Hc.CTRL_HW, rec, flags=CtrlHwOp.QOS)

    check_status(mk(body), S.BAD_HYP)


@pytest.mark.parametrize(
    ("platform", "op", "recorded", "clean"),
    [
        ("x86", 1, S.BAD_PAR, True),  # invalid op (domain.md 12)
        ("x86", 1, S.SUCCESS, False),
        ("x86", CtrlHwOp.QOS, S.SUCCESS, True),  # hardware-dependent: accepted
        ("x86", CtrlHwOp.QOS, S.BAD_PAR, True),
        ("x86", CtrlHwOp.SLEEP, S.BAD_FTR, True),
        ("x86", CtrlHwOp.SLEEP, S.BAD_CAP, False),
        ("arm", CtrlHwOp.QOS, S.BAD_FTR, True),  # Arm: no QOS (domain.md 12)
        ("arm", CtrlHwOp.L3_MASK, S.SUCCESS, False),
    ],
)
def test_ctrl_hw(platform: str, op: int, recorded: int, clean: bool) -> None:
    t = Trace(x86() if platform == "x86" else arm())
    t.call(Hc.CTRL_HW, recorded, flags=op)
    assert (t.run().findings == []) is clean


def test_cos_after_qos_configuration_is_hardware_dependent() -> None:
    t = Trace(x86())
    t.create(Hc.CREATE_EC, 0x300, flags=2, p1=ROOT_PD, p2=0x1000)
    t.call(Hc.CREATE_SC, S.BAD_PAR, sel=FREE, p1=ROOT_PD, p2=0x300, p3=5 | 10 << 16 | 1 << 23)
    t.call(Hc.CTRL_HW, S.SUCCESS, flags=CtrlHwOp.QOS, p1=0)
    t.call(Hc.CREATE_SC, S.BAD_PAR, sel=FREE, p1=ROOT_PD, p2=0x300, p3=5 | 10 << 16 | 1 << 23)
    assert t.run().findings == []


def _dma(t: Trace, sel: int = 0x80) -> None:
    t.create(Hc.CREATE_PD, sel, flags=CreatePdOp.DMA, p1=ROOT_PD)


@pytest.mark.parametrize(
    ("dma", "smmu", "expected"),
    [(True, 0xFED90000, S.SUCCESS), (False, 0xFED90000, S.BAD_CAP), (True, 0xFED91000, S.BAD_DEV)],
)
def test_assign_dev_2024(dma: bool, smmu: int, expected: int) -> None:
    def body(t: Trace, rec: int) -> int:
        if dma:
            _dma(t)
        return t.call(Hc.ASSIGN_DEV, rec, sel=0x80, p1=smmu, p2=0x0100)

    check_status(mk(body), expected)


def test_assign_dev_outside_the_root_is_bad_hyp() -> None:
    def body(t: Trace, rec: int) -> int:
        _dma(t)
        enter_local(t)
        return t.call(Hc.ASSIGN_DEV, rec, sel=0x80, p1=0xFED90000)

    check_status(mk(body), S.BAD_HYP)


def test_reserved_number_is_bad_hyp() -> None:
    check_status(mk(lambda t, rec: t.call(Hc.RESERVED, rec, sel=ROOT_PD)), S.BAD_HYP)
