"""Each rule the numba engine claims, on a hand-built trace with the expected finding written by hand (from
replay/MODEL.md), checked against the engine and - where the rule is shared - the reference model too.
Also: batch cuts and state growth do not change the result."""

from __future__ import annotations

import itertools

import numpy as np
from test_reference_support import ROOT_PD, Trace, arm, x86

from replay.engine import replay_engine
from replay.reference import replay_reference
from tracefmt.events import Kind, SwitchReason, TimeoutKind, WakeReason
from tracefmt.findings import Explanation, FindingCode, Severity
from tracefmt.nova import Hc, Status

F = FindingCode


def found(t: Trace, **kw) -> list[tuple[str, int, int]]:
    """(code name, event, subject) of the engine's findings."""
    eng = replay_engine(t.platform, t.b.batch(), **kw)
    return [(FindingCode(f.code).name, f.event, f.subject) for f in eng.findings()]


def ref_found(t: Trace) -> list[tuple[str, int, int]]:
    return [(FindingCode(f.code).name, f.event, f.subject) for f in t.run().findings]


def test_a_healthy_boot_and_plain_calls_are_clean_on_every_platform() -> None:
    for p in (x86(), x86(api="nova-2026"), arm(), arm(api="nova-2026")):
        t = Trace(p)
        t.create(Hc.CREATE_SM, 0x100, p1=ROOT_PD, p2=0)
        t.call(Hc.CTRL_PT, Status.BAD_CAP, sel=0x200)
        assert found(t) == [] and ref_found(t) == []


def test_an_exit_recorded_twice_is_one_unexpected_exit() -> None:
    t = Trace(x86())
    t.create(Hc.CREATE_SM, 0x100, p1=ROOT_PD, p2=0)
    i = t.b.hc_exit(0, t.ec, Hc.CREATE_SM, Status.SUCCESS)
    eng = replay_engine(t.platform, t.b.batch()).findings()
    assert [(f.code, f.event, f.subject, f.detail) for f in eng] == [
        (int(F.UNEXPECTED_EXIT), i, t.ec, int(Hc.CREATE_SM))
    ]
    assert (eng[0].severity, eng[0].explanation) == (int(Severity.ERROR), int(Explanation.KERNEL))
    assert ref_found(t) == found(t)


def test_a_missing_exit_shows_at_the_next_input_and_a_late_one_is_accepted() -> None:
    t = Trace(x86())
    t.b.hc_entry(0, t.ec, Hc.CREATE_SM, sel=0x100, p1=ROOT_PD)
    i = t.b.hc_entry(0, t.ec, Hc.CTRL_PT, sel=0x200)  # the EC made another call: create_sm never returned
    t.b.hc_exit(0, t.ec, Hc.CTRL_PT, Status.BAD_CAP)
    assert found(t) == [("MISSING_EXIT", i, t.ec)]
    assert ref_found(t) == found(t)
    t = Trace(x86())
    t.b.hc_entry(0, t.ec, Hc.CREATE_SM, sel=0x100, p1=ROOT_PD)
    i = t.b.event(1, Kind.IPI_RECV, ec=0, source_cpu=0, ipi=0)  # another CPU's input does not flush CPU 0
    j = t.b.event(0, Kind.MARKER, ec=t.ec, marker=0, string=-1)  # nor does a marker
    k = t.b.event(0, Kind.IRQ_ARRIVAL, ec=t.ec, vector=0x20 + 200, irq=-1, source=-1, irq_kind=2, event_id=-1)
    t.b.hc_exit(0, t.ec, Hc.CREATE_SM, Status.SUCCESS, created=0x800040)  # late: accepted silently
    assert (i, j) < (k, k)
    assert [f for f in found(t) if f[0] in ("MISSING_EXIT", "UNEXPECTED_EXIT")] == [("MISSING_EXIT", k, t.ec)]


def test_calls_that_may_block_or_switch_are_not_claimed() -> None:
    t = Trace(x86())
    sm = t.create(Hc.CREATE_SM, 0x100, p1=ROOT_PD, p2=1)
    t.b.hc_entry(0, t.ec, Hc.CTRL_SM, sel=0x100, flags=1)  # a down with counter 1: returns at once...
    i = t.b.hc_entry(0, t.ec, Hc.CTRL_PT, sel=0x200)  # ...but its exit is missing
    assert ("MISSING_EXIT", i, t.ec) in ref_found(t)
    assert found(t) == []  # the engine has no semaphore counters: it cannot know the down did not block
    assert sm


def test_selectors_beyond_2_to_the_18_are_aliased() -> None:
    t = Trace(x86())
    i = t.b.hc_entry(0, t.ec, Hc.CREATE_SM, sel=(1 << 18) + 0x123, p1=ROOT_PD | (3 << 18))
    t.b.hc_exit(0, t.ec, Hc.CREATE_SM, Status.SUCCESS, created=0x800040)
    eng = replay_engine(t.platform, t.b.batch()).findings()
    assert [(f.code, f.event, f.subject, f.observed) for f in eng] == [
        (int(F.SELECTOR_ALIASED), i, 0x123, (1 << 18) + 0x123),
        (int(F.SELECTOR_ALIASED), i, ROOT_PD, ROOT_PD | (3 << 18)),
    ]
    assert all(f.severity == Severity.INFO and f.explanation == Explanation.INPUT for f in eng)
    assert sorted(ref_found(t)) == sorted(found(t))


def test_loss_is_one_trace_gap_with_the_count() -> None:
    t = Trace(x86())
    t.b.skip_seq(1, 5)
    i = t.b.event(1, Kind.IPI_RECV, ec=0, source_cpu=0, ipi=0)
    j = t.b.event(0, Kind.RECORDER_LOSS, ec=0, lost=3, first_ts=-1, last_ts=-1, first_seq=0)  # no seq jump
    assert found(t) == [("TRACE_GAP", i, 5), ("TRACE_GAP", j, 3)]
    assert replay_engine(t.platform, t.b.batch()).summary()["loss_gaps"] == 2


def test_findings_near_a_gap_are_explained_by_it() -> None:
    t = Trace(x86())
    t.create(Hc.CREATE_SM, 0x100, p1=ROOT_PD, p2=0)
    i = t.b.hc_exit(0, t.ec, Hc.CREATE_SM, Status.SUCCESS)  # duplicated exit ...
    t.b.skip_seq(0, 1)
    t.b.event(0, Kind.MARKER, ec=t.ec, marker=0, string=-1)  # ... then a record of CPU 0 lost before this
    eng = replay_engine(t.platform, t.b.batch()).findings()
    assert next((f.code, f.event, f.explanation) for f in eng) == (
        int(F.UNEXPECTED_EXIT),
        i,
        int(Explanation.TRACE_LOSS),
    )
    assert eng[0].severity == Severity.WARNING


def test_a_trace_starting_mid_run_is_a_cold_start_without_blame() -> None:
    t = Trace(x86())
    t.create(Hc.CREATE_SM, 0x100, p1=ROOT_PD, p2=0)
    t.b.hc_exit(0, t.ec, Hc.CREATE_SM, Status.SUCCESS)
    b = t.b.batch()
    start = int(np.flatnonzero(b.kind == Kind.HC_EXIT)[0])  # begins with an exit whose entry is not in the trace
    eng = replay_engine(t.platform, b.slice(start, b.n))
    assert [(f.code, f.event, f.severity) for f in eng.findings()] == [(int(F.COLD_START), 0, int(Severity.INFO))]
    assert eng.summary()["cold_start"]


def test_inputs_outside_the_platform_and_impossible_records() -> None:
    t = Trace(x86(cpus=2))
    i = t.b.raw(0, Kind.MARKER, ec=t.ec, seq=0)  # (its own seq: CPU 0 has no gap)
    t.b.rows[i] = (t.b.rows[i][0], 7, *t.b.rows[i][2:])  # CPU 7 on a 2-CPU machine
    j = t.b.event(1, Kind.IPI_RECV, ec=0, source_cpu=5, ipi=0)
    k = t.b.event(1, Kind.IPI_RECV, ec=0, source_cpu=0, ipi=7)
    m = t.b.event(1, Kind.TIMEOUT, ec=0, timeout_kind=3, object=t.ec, deadline=0)
    t.b.hc_entry(0, t.ec, Hc.CTRL_PT, sel=0x200)
    n = t.b.hc_exit(0, t.ec, Hc.CTRL_PT, 0x77)
    eng = replay_engine(t.platform, t.b.batch()).findings()
    got = [(FindingCode(f.code).name, f.event, f.observed) for f in eng]
    assert got == [
        ("BAD_INPUT_CPU", i, 7),
        ("BAD_INPUT_CPU", j, 5),
        ("BAD_RECORD", k, 7),
        ("BAD_RECORD", m, 3),
        ("BAD_RECORD", n, 0x77),
    ]
    ref = [(FindingCode(f.code).name, f.event, f.observed) for f in t.run().findings]
    assert ref == got


def _down_with_deadline(t: Trace, deadline: int, fire: int) -> int:
    """Root blocks on a fresh SM with ``deadline``; the timer fires at ``fire``; returns the TIMEOUT row."""
    ids = t.ids
    sm = t.create(Hc.CREATE_SM, 0x100, p1=ROOT_PD, p2=0)
    t.b.hc_entry(0, t.ec, Hc.CTRL_SM, sel=0x100, flags=1, p1=deadline)
    t.event(Kind.SM_BLOCK, sm=sm, deadline=deadline, sc=ids.root_sc)
    t.b.event(
        0,
        Kind.SCHED_SWITCH,
        ec=ids.idle_ec[0],
        from_ec=t.ec,
        to_ec=ids.idle_ec[0],
        from_sc=ids.root_sc,
        to_sc=ids.idle_sc[0],
        switch_reason=SwitchReason.BLOCK,
    )
    i = t.b.event(0, Kind.TIMEOUT, ec=ids.idle_ec[0], ts=fire, timeout_kind=TimeoutKind.HYPERCALL, object=t.ec)
    t.b.rows[i] = (*t.b.rows[i][:7], deadline, *t.b.rows[i][8:])  # deadline word (a2)
    t.b.event(0, Kind.EC_WAKE, ec=ids.idle_ec[0], woken=t.ec, wake_reason=WakeReason.TIMEOUT, object=sm, target_cpu=0)
    t.b.event(
        0,
        Kind.SCHED_SWITCH,
        ec=t.ec,
        from_ec=ids.idle_ec[0],
        to_ec=t.ec,
        from_sc=ids.idle_sc[0],
        to_sc=ids.root_sc,
        switch_reason=SwitchReason.WAKE,
    )
    t.b.hc_exit(0, t.ec, Hc.CTRL_SM, Status.TIMEOUT)
    return i


def test_a_timer_firing_before_its_deadline_is_early() -> None:
    t = Trace(x86())
    i = _down_with_deadline(t, deadline=5_000_000, fire=4_000_000)
    eng = replay_engine(t.platform, t.b.batch()).findings()
    assert [(f.code, f.event, f.subject, f.expected, f.observed) for f in eng] == [
        (int(F.EARLY_TIMEOUT), i, t.ec, 5_000_000, 4_000_000)
    ]
    assert ref_found(t) == found(t)
    t = Trace(x86())
    _down_with_deadline(t, deadline=5_000_000, fire=5_000_000)
    assert found(t) == [] and ref_found(t) == []
    assert replay_engine(t.platform, t.b.batch()).summary()["checked"]["timeouts_checked"] == 1


def test_batch_cuts_and_growth_do_not_change_the_findings() -> None:
    t = Trace(x86())
    for n in range(3000):  # more ECs than the initial object capacity, and more findings than the initial rows
        ec = 0x900000 + 0x40 * n
        t.b.hc_entry(0, ec, Hc.CTRL_PT, sel=0x200)
        t.b.hc_exit(0, ec, Hc.CTRL_PT, Status.BAD_CAP)
        t.b.hc_exit(0, ec, Hc.CTRL_PT, Status.BAD_CAP)
    b = t.b.batch()
    whole = replay_engine(t.platform, b).findings()
    assert len(whole) == 3000 and {f.code for f in whole} == {int(F.UNEXPECTED_EXIT)}
    cuts = [0, 1, 250, 251, 4000, 9000, b.n]
    parts = [b.slice(a, z) for a, z in itertools.pairwise(cuts)]
    assert replay_engine(t.platform, iter(parts)).findings() == whole


def test_the_reference_agrees_on_the_model_override() -> None:
    t = Trace(x86())
    t.create(Hc.CREATE_SM, 0x100, p1=ROOT_PD, p2=0)
    t.call(Hc.CTRL_PT, Status.BAD_CAP, sel=0x200)
    b = t.b.batch()
    for api in ("nova-2024", "nova-2026"):
        eng = [(f.code, f.event) for f in replay_engine(t.platform, b, model_api=api).findings()]
        ref = [(f.code, f.event) for f in replay_reference(t.platform, b, model_api=api).findings]
        claimed = [x for x in ref if x[0] in {int(F.MISSING_EXIT), int(F.UNEXPECTED_EXIT), int(F.TRACE_GAP)}]
        assert eng == claimed, api
