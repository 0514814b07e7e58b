"""create_pd / create_ec / create_sc / create_pt / create_sm: every status in NOVA's check order.

Expected statuses are derived by hand from domain.md 2.3-2.4 and 12 (confirmed on a real NOVA): the
parameter checks before the capability checks, the occupied selector detected last.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_reference_support import (
    ROOT_EC,
    ROOT_OBJ,
    ROOT_PD,
    Trace,
    check_status,
    pd_with_spaces,
    status_findings,
    x86,
)

from tracefmt.events import Kind
from tracefmt.findings import FindingCode
from tracefmt.nova import CreatePdOp, FlagCreateEc, Hc, Ipi, Status

S = Status
FREE = 0x100


def scd(prio: int = 10, budget: int = 5, cos: int = 0) -> int:
    return budget | prio << 16 | cos << 23


def delegate(t: Trace, ssb: int, dsb: int, pmm: int, order: int = 0, status: int = S.SUCCESS) -> int:
    """ctrl_pd root OBJ -> root OBJ: copy slot ssb to dsb with permissions masked by pmm."""
    return t.call(Hc.CTRL_PD, status, sel=ROOT_OBJ, p1=ROOT_OBJ, p2=ssb << 12 | order, p3=dsb << 12 | pmm)


def mk(body):
    def make(recorded: int):
        t = Trace(x86())
        return t, body(t, recorded)

    return make


# --- create_pd ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pd_sel", "op", "sel", "expected"),
    [
        (ROOT_PD, CreatePdOp.PD, FREE, S.SUCCESS),
        (ROOT_EC, CreatePdOp.PD, FREE, S.BAD_CAP),  # not a PD capability
        (FREE + 1, CreatePdOp.PD, FREE, S.BAD_CAP),  # empty slot
        (ROOT_PD, 7, FREE, S.BAD_PAR),  # OP 7 (domain.md 12)
        (ROOT_PD, 7, ROOT_EC, S.BAD_PAR),  # BAD_PAR before the occupied selector
        (ROOT_EC, 7, FREE, S.BAD_CAP),  # the PD capability is checked before OP
        (ROOT_PD, CreatePdOp.OBJ, FREE, S.ABORTED),  # root already has its OBJ space
        (ROOT_PD, CreatePdOp.HST, FREE, S.ABORTED),
        (ROOT_PD, CreatePdOp.OBJ, ROOT_EC, S.ABORTED),  # ABORTED before the occupied selector
        (ROOT_PD, CreatePdOp.PD, ROOT_EC, S.BAD_CAP),  # occupied selector
        (ROOT_PD, CreatePdOp.GST, FREE, S.SUCCESS),
        (ROOT_PD, CreatePdOp.DMA, FREE, S.SUCCESS),  # the example platform has an IOMMU
        (ROOT_PD, CreatePdOp.PIO, FREE, S.SUCCESS),  # a second PIO space: not attached, no HST needed
        (ROOT_PD, CreatePdOp.MSR, FREE, S.SUCCESS),
    ],
)
def test_create_pd_statuses(pd_sel: int, op: int, sel: int, expected: int) -> None:
    def body(t: Trace, rec: int) -> int:
        oid = t.oid() if rec == S.SUCCESS else 0
        return t.call(Hc.CREATE_PD, rec, sel=sel, flags=op, p1=pd_sel, created=oid)

    check_status(mk(body), expected)


def test_create_pd_pio_needs_the_hst_first_and_obj_only_once() -> None:
    def body(t: Trace, rec: int) -> int:
        pd_with_spaces(t, 0x200, spaces=(CreatePdOp.OBJ,))
        return t.call(Hc.CREATE_PD, rec, sel=0x210, flags=CreatePdOp.PIO, p1=0x200)

    check_status(mk(body), S.ABORTED)  # first PIO space of a PD without HST (domain.md 12)

    def body2(t: Trace, rec: int) -> int:
        pd_with_spaces(t, 0x200, spaces=(CreatePdOp.OBJ, CreatePdOp.HST, CreatePdOp.PIO))
        return t.call(Hc.CREATE_PD, rec, sel=0x210, flags=CreatePdOp.OBJ, p1=0x200)

    check_status(mk(body2), S.ABORTED)  # second OBJ space


def test_create_pd_dma_without_iommu_is_bad_ftr() -> None:
    p = x86()
    p = replace(p, x86=replace(p.x86, iommus=(), remapping=False))

    def make(rec: int):
        t = Trace(p)
        return t, t.call(Hc.CREATE_PD, rec, sel=FREE, flags=CreatePdOp.DMA, p1=ROOT_PD)

    check_status(make, S.BAD_FTR)


def test_new_pd_capability_inherits_the_authorising_permissions() -> None:
    t = Trace(x86())
    delegate(t, ROOT_PD, 0x50, pmm=0x11)  # PD + SM only
    pd = t.create(Hc.CREATE_PD, FREE, flags=CreatePdOp.PD, p1=0x50)
    r = t.run()
    assert r.findings == []
    caps = {(c["space"], c["sel"]): (c["obj"], c["perms"]) for c in r.snapshot()["caps"]}
    assert caps[(t.ids.root_obj, FREE)] == (pd, 0x11)
    # that PD capability lacks EC permission: create_ec with it is BAD_CAP
    i = t.call(Hc.CREATE_EC, S.SUCCESS, sel=FREE + 1, p1=0x50, created=0)
    assert status_findings(t.run()) == [(int(FindingCode.STATUS_MISMATCH), i, int(S.BAD_CAP), int(S.SUCCESS))]


@pytest.mark.parametrize("resource", [S.MEM_OBJ, S.MEM_CAP])
def test_resource_failures_are_accepted_only_after_the_checks(resource: int) -> None:
    t = Trace(x86())
    t.call(Hc.CREATE_SM, resource, sel=FREE, p1=ROOT_PD)  # expected SUCCESS: allocation may fail
    t.call(Hc.CREATE_SM, resource, sel=ROOT_EC, p1=ROOT_PD)  # expected BAD_CAP (occupied, after allocation)
    assert t.run().findings == []
    i = t.call(Hc.CREATE_PD, resource, sel=FREE, flags=7, p1=ROOT_PD)  # BAD_PAR comes before allocation
    assert status_findings(t.run()) == [(int(FindingCode.STATUS_MISMATCH), i, int(S.BAD_PAR), int(resource))]
    # nothing was created by the failed calls
    assert not [c for c in t.run().snapshot()["caps"] if c["sel"] == FREE]


# --- create_ec -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hva", "cpu", "pd_sel", "sel", "expected"),
    [
        (0x1000, 1, ROOT_PD, FREE, S.SUCCESS),
        (1 << 47, 1, ROOT_PD, FREE, S.BAD_PAR),  # hva beyond the x86 user half (2^35 pages)
        (1 << 47, 9, ROOT_EC, ROOT_EC, S.BAD_PAR),  # BAD_PAR first
        (0x1000, 2, ROOT_EC, ROOT_EC, S.BAD_CPU),  # CPU 2 of 2: BAD_CPU before the capability
        (0x1000, 1, ROOT_EC, FREE, S.BAD_CAP),
        (0x1000, 1, ROOT_PD, ROOT_EC, S.BAD_CAP),  # occupied, last
    ],
)
def test_create_ec_statuses(hva: int, cpu: int, pd_sel: int, sel: int, expected: int) -> None:
    def body(t: Trace, rec: int) -> int:
        oid = t.oid() if rec == S.SUCCESS else 0
        return t.call(Hc.CREATE_EC, rec, sel=sel, p1=pd_sel, p2=hva | cpu, created=oid)

    check_status(mk(body), expected)


def test_create_ec_needs_the_pd_spaces() -> None:
    def body(t: Trace, rec: int) -> int:
        pd_with_spaces(t, 0x200, spaces=(CreatePdOp.OBJ, CreatePdOp.HST))  # no PIO space: x86 host EC aborts
        return t.call(Hc.CREATE_EC, rec, sel=FREE, p1=0x200, p2=0x1000)

    check_status(mk(body), S.ABORTED)

    def body2(t: Trace, rec: int) -> int:
        pd_with_spaces(t, 0x200)
        oid = t.oid() if rec == S.SUCCESS else 0
        return t.call(Hc.CREATE_EC, rec, sel=FREE, p1=0x200, p2=0x1000, created=oid)

    check_status(mk(body2), S.SUCCESS)


def test_vcpu_feature_is_learned_from_the_first_answer() -> None:
    """The platform does not say whether VMX/SVM exist: the first vCPU creation teaches it (MODEL.md 13)."""
    t = Trace(x86())
    t.call(Hc.CREATE_EC, S.BAD_FTR, sel=FREE, flags=FlagCreateEc.G, p1=ROOT_PD, p2=0x1000)
    assert t.run().findings == []
    i = t.call(Hc.CREATE_EC, S.SUCCESS, sel=FREE, flags=FlagCreateEc.G, p1=ROOT_PD, p2=0x1000, created=t.oid())
    assert status_findings(t.run()) == [(int(FindingCode.STATUS_MISMATCH), i, int(S.BAD_FTR), int(S.SUCCESS))]


# --- create_sc -----------------------------------------------------------------------------------------------------


def _global_ec(t: Trace, sel: int = 0x300, cpu: int = 0) -> int:
    return t.create(Hc.CREATE_EC, sel, flags=FlagCreateEc.T, p1=ROOT_PD, p2=0x1000 | cpu)


def _local_ec(t: Trace, sel: int = 0x310, cpu: int = 0) -> int:
    return t.create(Hc.CREATE_EC, sel, p1=ROOT_PD, p2=0x2000 | cpu)


@pytest.mark.parametrize(
    ("pd_sel", "ec_sel", "qpd", "sel", "expected"),
    [
        (ROOT_PD, 0x300, scd(), FREE, S.SUCCESS),
        (ROOT_PD, 0x300, scd(prio=0), FREE, S.BAD_PAR),
        (ROOT_PD, 0x300, scd(budget=0), FREE, S.BAD_PAR),
        (ROOT_PD, 0x300, scd(cos=1), FREE, S.BAD_PAR),  # COS 1 before any QOS configuration
        (ROOT_EC, ROOT_EC, scd(prio=0), ROOT_EC, S.BAD_PAR),  # BAD_PAR before the capabilities
        (ROOT_EC, 0x300, scd(), FREE, S.BAD_CAP),  # PD capability wrong
        (ROOT_PD, ROOT_PD, scd(), FREE, S.BAD_CAP),  # EC capability wrong
        (ROOT_PD, 0x310, scd(), FREE, S.BAD_CAP),  # local EC (domain.md 12)
        (ROOT_PD, 0x300, scd(), ROOT_EC, S.BAD_CAP),  # occupied
    ],
)
def test_create_sc_statuses(pd_sel: int, ec_sel: int, qpd: int, sel: int, expected: int) -> None:
    def make(rec: int):
        t = Trace(x86())
        _global_ec(t, cpu=1)
        _local_ec(t)
        oid = t.oid() if rec == S.SUCCESS else 0
        t.call(Hc.CREATE_SC, None, sel=sel, p1=pd_sel, p2=ec_sel, p3=qpd)
        if rec == S.SUCCESS:  # the SC of an EC on CPU 1 goes to CPU 1's (empty) release queue: RRQ IPI
            t.event(Kind.IPI_SEND, target_cpu=1, ipi=Ipi.RRQ)
        return t, t.b.hc_exit(0, t.ec, Hc.CREATE_SC, rec, created=oid)

    check_status(make, expected)


def test_create_sc_on_the_same_cpu_enqueues_without_switching() -> None:
    t = Trace(x86())
    ec = _global_ec(t)
    sc = t.create(Hc.CREATE_SC, FREE, p1=ROOT_PD, p2=0x300, p3=scd(prio=5))
    r = t.run()
    assert r.findings == []
    s = r.snapshot()
    assert s["cpus"][0]["ready"] == [sc, t.ids.idle_sc[0]]
    obj = next(o for o in s["objects"] if o["id"] == sc)
    assert (obj["ec"], obj["prio"], obj["cpu"], obj["state"]) == (ec, 5, 0, "ready")


# --- create_pt / create_sm -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pd_sel", "ec_sel", "sel", "expected"),
    [
        (ROOT_PD, 0x310, FREE, S.SUCCESS),
        (ROOT_EC, 0x310, FREE, S.BAD_CAP),
        (ROOT_PD, ROOT_PD, FREE, S.BAD_CAP),
        (ROOT_PD, 0x300, FREE, S.BAD_CAP),  # global EC: portals bind only local ECs
        (ROOT_PD, 0x310, ROOT_EC, S.BAD_CAP),  # occupied
    ],
)
def test_create_pt_statuses(pd_sel: int, ec_sel: int, sel: int, expected: int) -> None:
    def body(t: Trace, rec: int) -> int:
        _global_ec(t)
        _local_ec(t)
        oid = t.oid() if rec == S.SUCCESS else 0
        return t.call(Hc.CREATE_PT, rec, sel=sel, p1=pd_sel, p2=ec_sel, p3=0x4000, created=oid)

    check_status(mk(body), expected)


def test_create_pt_with_a_bind_pt_less_ec_capability_is_bad_cap() -> None:
    def body(t: Trace, rec: int) -> int:
        _local_ec(t)
        delegate(t, 0x310, 0x320, pmm=0x9)  # CTRL + BIND_SC, no BIND_PT
        return t.call(Hc.CREATE_PT, rec, sel=FREE, p1=ROOT_PD, p2=0x320, p3=0x4000)

    check_status(mk(body), S.BAD_CAP)


@pytest.mark.parametrize(
    ("pd_sel", "sel", "expected"),
    [(ROOT_PD, FREE, S.SUCCESS), (ROOT_EC, FREE, S.BAD_CAP), (ROOT_PD, ROOT_EC, S.BAD_CAP)],
)
def test_create_sm_statuses(pd_sel: int, sel: int, expected: int) -> None:
    def body(t: Trace, rec: int) -> int:
        oid = t.oid() if rec == S.SUCCESS else 0
        return t.call(Hc.CREATE_SM, rec, sel=sel, p1=pd_sel, p2=3, created=oid)

    check_status(mk(body), expected)


def test_selectors_alias_to_18_bits() -> None:
    """A selector >= 2^18 uses its low 18 bits (domain.md 3.1): an INFO finding, then NOVA's behaviour."""
    t = Trace(x86())
    i = t.call(Hc.CREATE_SM, S.BAD_CAP, sel=(1 << 18) | ROOT_EC, p1=ROOT_PD)  # aliases to the root EC slot
    r = t.run()
    assert [(f.code, f.event, f.expected) for f in r.findings] == [(int(FindingCode.SELECTOR_ALIASED), i - 1, ROOT_EC)]


def test_created_word_checks() -> None:
    t = Trace(x86())
    t.call(Hc.CREATE_SM, S.SUCCESS, sel=FREE, p1=ROOT_PD, created=0)  # 0 = unknown: allowed
    i = t.call(Hc.CREATE_SM, S.BAD_CAP, sel=FREE, p1=ROOT_PD, created=0x9000)  # occupied, yet "created"
    r = t.run()
    assert [(f.code, f.event) for f in r.findings] == [(int(FindingCode.CREATED_MISMATCH), i)]
    objs = r.snapshot()["objects"]
    assert [o["id"] for o in objs if o["type"] == "SM" and o["subtype"] == "REG" and o["id"] < 0] == [-2]
