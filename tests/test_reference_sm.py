"""Semaphores: up/down, Z flag, absolute timeouts, overflow at 2^64-1, FIFO wake, BAD_CAP (domain.md 5)."""

from __future__ import annotations

from test_reference_support import ROOT_EC, ROOT_PD, Trace, check_status, status_findings, x86

from tracefmt.events import Kind, SwitchReason, TimeoutKind, UpCause, WakeReason
from tracefmt.findings import FindingCode
from tracefmt.nova import FlagCtrlSm, Hc, Status

S = Status
SM = 0x100
D, Z = int(FlagCtrlSm.D), int(FlagCtrlSm.Z)


def with_sm(counter: int) -> tuple[Trace, int]:
    t = Trace(x86())
    return t, t.create(Hc.CREATE_SM, SM, p1=ROOT_PD, p2=counter)


def up_event(t: Trace, sm: int, counter: int, woken: int = 0) -> int:
    return t.event(Kind.SM_UP, sm=sm, counter=counter, woken=woken, up_cause=UpCause.HYPERCALL, irq=-1)


def test_up_increments_and_down_decrements_or_zeroes() -> None:
    t, sm = with_sm(5)
    t.call(Hc.CTRL_SM, None, sel=SM)
    up_event(t, sm, 6)
    t.b.hc_exit(0, t.ec, Hc.CTRL_SM, S.SUCCESS)
    t.call(Hc.CTRL_SM, S.SUCCESS, sel=SM, flags=D)  # 6 -> 5, returns at once
    t.call(Hc.CTRL_SM, S.SUCCESS, sel=SM, flags=D | Z)  # 5 -> 0 (Z)
    r = t.run()
    assert r.findings == []
    assert next(o for o in r.snapshot()["objects"] if o["id"] == sm)["counter"] == 0


def test_wrong_counter_is_one_finding_and_the_recorded_value_is_adopted() -> None:
    t, sm = with_sm(5)
    t.call(Hc.CTRL_SM, None, sel=SM)
    i = up_event(t, sm, 9)
    t.b.hc_exit(0, t.ec, Hc.CTRL_SM, S.SUCCESS)
    t.call(Hc.CTRL_SM, None, sel=SM)
    up_event(t, sm, 10)  # consistent with the adopted 9
    t.b.hc_exit(0, t.ec, Hc.CTRL_SM, S.SUCCESS)
    assert status_findings(t.run()) == [(int(FindingCode.WORD_MISMATCH), i, 6, 9)]


def test_up_without_the_event_is_missing() -> None:
    t, _ = with_sm(5)
    i = t.call(Hc.CTRL_SM, S.SUCCESS, sel=SM)
    r = t.run()
    assert [(f.code, f.event, f.detail) for f in r.findings] == [(int(FindingCode.MISSING_EVENT), i, int(Kind.SM_UP))]


def test_up_bad_cap_and_overflow() -> None:
    def body(t: Trace, rec: int) -> int:
        return t.call(Hc.CTRL_SM, rec, sel=ROOT_EC)

    check_status(lambda rec: (t := Trace(x86()), body(t, rec)), S.BAD_CAP)

    def body2(rec: int):
        t, _ = with_sm(-1)  # counter 2^64-1
        return t, t.call(Hc.CTRL_SM, rec, sel=SM)

    check_status(body2, S.OVRFLOW)
    # the dropped up may be recorded (counter -1, woken 0): optional
    t, sm = with_sm(-1)
    t.call(Hc.CTRL_SM, None, sel=SM)
    up_event(t, sm, -1)
    t.b.hc_exit(0, t.ec, Hc.CTRL_SM, S.OVRFLOW)
    assert t.run().findings == []


def test_down_permission_and_interrupt_sm_has_no_up() -> None:
    def body(rec: int):
        t = Trace(x86())
        # interrupt SM 5 copied into the root space: perms 0x12, no CTRL_UP (domain.md 3.2)
        t.call(Hc.CTRL_PD, S.SUCCESS, sel=0x3FFFF, p1=0x3FFFE, p2=0x10005 << 12, p3=0x200 << 12 | 0x1F)
        return t, t.call(Hc.CTRL_SM, rec, sel=0x200)

    check_status(body, S.BAD_CAP)


def block_root(t: Trace, sm: int, deadline: int = 0) -> int:
    """Root downs a zero SM: SM_BLOCK, then CPU 0 switches to its idle EC (nothing else is ready)."""
    ids = t.ids
    i = t.call(Hc.CTRL_SM, None, sel=SM, flags=D, p1=deadline)
    t.event(Kind.SM_BLOCK, sm=sm, deadline=deadline, sc=ids.root_sc)
    t.event(
        Kind.SCHED_SWITCH,
        ec=ids.idle_ec[0],
        from_ec=ids.root_ec,
        to_ec=ids.idle_ec[0],
        from_sc=ids.root_sc,
        to_sc=ids.idle_sc[0],
        switch_reason=SwitchReason.BLOCK,
    )
    return i


def back_to_root(t: Trace, status: int) -> int:
    ids = t.ids
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


def test_blocking_down_times_out_at_its_absolute_deadline() -> None:
    t, sm = with_sm(0)
    deadline = t.b.ts + 10_000
    block_root(t, sm, deadline)
    t.b.at(deadline + 50)
    t.event(
        Kind.TIMEOUT, ec=t.ids.idle_ec[0], timeout_kind=TimeoutKind.HYPERCALL, object=t.ids.root_ec, deadline=deadline
    )
    t.event(
        Kind.EC_WAKE, ec=t.ids.idle_ec[0], woken=t.ids.root_ec, wake_reason=WakeReason.TIMEOUT, object=sm, target_cpu=0
    )
    back_to_root(t, S.TIMEOUT)
    r = t.run()
    assert r.findings == [], r.findings
    s = r.snapshot()
    root = next(o for o in s["objects"] if o["id"] == t.ids.root_ec)
    assert (root["cont"], root["call"], root["timeout"]) == ("USER", None, 0)
    assert next(o for o in s["objects"] if o["id"] == sm)["waiters"] == []


def test_timeout_before_the_deadline_is_early() -> None:
    t, sm = with_sm(0)
    deadline = t.b.ts + 10_000
    block_root(t, sm, deadline)
    i = t.event(
        Kind.TIMEOUT, ec=t.ids.idle_ec[0], timeout_kind=TimeoutKind.HYPERCALL, object=t.ids.root_ec, deadline=deadline
    )
    t.event(
        Kind.EC_WAKE, ec=t.ids.idle_ec[0], woken=t.ids.root_ec, wake_reason=WakeReason.TIMEOUT, object=sm, target_cpu=0
    )
    back_to_root(t, S.TIMEOUT)
    assert [(f.code, f.event) for f in t.run().findings] == [(int(FindingCode.EARLY_TIMEOUT), i)]


def test_timeout_without_deadline_is_unexpected() -> None:
    t, sm = with_sm(0)
    block_root(t, sm, 0)
    t.b.at(t.b.ts + 100_000)
    i = t.event(
        Kind.TIMEOUT, ec=t.ids.idle_ec[0], timeout_kind=TimeoutKind.HYPERCALL, object=t.ids.root_ec, deadline=t.b.ts
    )
    r = t.run()
    assert [(f.code, f.event) for f in r.findings][:1] == [(int(FindingCode.UNEXPECTED_EVENT), i)]


def test_blocked_caller_returning_without_wake_is_unexpected_exit() -> None:
    t, sm = with_sm(0)
    block_root(t, sm)
    i = back_to_root(t, S.SUCCESS)
    names = [(f.code, f.event) for f in t.run().findings]
    # the switch back to a blocked root and its exit: the switch is the first thing the model cannot explain
    assert names[0][0] in (int(FindingCode.UNEXPECTED_EVENT), int(FindingCode.UNEXPECTED_EXIT))
    assert all(e <= i for _, e in names)


def test_console_semaphore_up_by_the_kernel() -> None:
    """The kernel ups the console SM once per line it writes (domain.md 5): a semi-input."""
    t = Trace(x86())
    ids = t.ids
    t.event(Kind.SM_UP, sm=ids.console, counter=1, woken=0, up_cause=UpCause.CONSOLE, irq=-1)
    t.event(Kind.SM_UP, sm=ids.console, counter=2, woken=0, up_cause=UpCause.CONSOLE, irq=-1)
    r = t.run()
    assert r.findings == []
    assert next(o for o in r.snapshot()["objects"] if o["id"] == ids.console)["counter"] == 2
    i = t.event(Kind.SM_UP, sm=ids.console, counter=7, woken=0, up_cause=UpCause.CONSOLE, irq=-1)
    assert status_findings(t.run()) == [(int(FindingCode.WORD_MISMATCH), i, 3, 7)]
