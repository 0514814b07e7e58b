"""Derived tables (replay/tables.py) on hand-built traces: every expected row is written from FORMAT.md 4.4 and
MODEL.md 10.2; each interrupt trace is also replayed by the reference model (it must be clean, so the trace is
a correct kernel run), and where the model has the same fact (who runs, who waits) the two are compared.
"""

from __future__ import annotations

import itertools
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_reference_ipc import _busy_callee, reply_to_root, sw
from test_reference_irq import SEL, arrive, assign, assign26, dc_2026, int_sm_2026, irq_ev, pull_int
from test_reference_support import EVT, Trace, enter_local, start_global, x86

from replay.reference import replay_reference
from replay.tables import TableBuilder, Tables, derive_tables
from tracefmt.builder import TraceBuilder, hypercall_word
from tracefmt.events import IrqCause, IrqKind, KillReason, Kind, SwitchReason, UpCause, WakeReason
from tracefmt.nova import FlagAssignInt2024, FlagCtrlSm, Hc, Ipi, Status
from tracefmt.platform import example_arm, example_x86

D, T = int(FlagCtrlSm.D), int(FlagAssignInt2024.T)
PIN, MSI, SPI = IrqKind.X86_PIN, IrqKind.X86_MSI, IrqKind.ARM_SPI


def tables(t: Trace | TraceBuilder) -> Tables:
    b = t.b if isinstance(t, Trace) else t
    return derive_tables(b.platform.cpus, b.batch())


def ts(t: Trace, i: int) -> int:
    return int(t.b.batch().ts[i])


def rows(df: pl.DataFrame, **where: Any) -> list[dict[str, Any]]:
    out = df.to_dicts()
    return [r for r in out if all(r[k] == v for k, v in where.items())]


def sub(row: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``row`` named in ``expected`` (so a failing assert shows only what matters)."""
    return {k: row[k] for k in expected}


def down_and_block(t: Trace, sm: int, ack: list[tuple[Kind, int, IrqKind]] | None = None) -> dict[str, int]:
    """Root downs the interrupt SM (with the acknowledge events), blocks, CPU 0 idles; returns event indices."""
    ids = t.ids
    idx = {"entry": t.call(Hc.CTRL_SM, None, sel=SEL, flags=D)}
    for kind, n, ik in ack or []:
        idx["ack"] = irq_ev(t, kind, n, ik, IrqCause.DOWN)
    t.event(Kind.SM_BLOCK, sm=sm, deadline=0, sc=ids.root_sc)
    idx["switch"] = sw(t, 0, ids.root_ec, ids.idle_ec[0], ids.root_sc, ids.idle_sc[0], SwitchReason.BLOCK)
    return idx


def up_wake(t: Trace, sm: int, n: int, cpu: int = 0) -> tuple[int, int]:
    cur = t.ids.idle_ec[cpu]
    root = t.ids.root_ec
    up = t.event(Kind.SM_UP, cpu=cpu, ec=cur, sm=sm, counter=0, woken=root, up_cause=UpCause.INTERRUPT, irq=n)
    wake = t.event(Kind.EC_WAKE, cpu=cpu, ec=cur, woken=root, wake_reason=WakeReason.SM_UP, object=sm, target_cpu=0)
    return up, wake


def root_runs(t: Trace, ipi_from: int | None = None) -> tuple[int, int]:
    """The root EC is switched to on CPU 0 and its down returns; (switch, exit) indices."""
    ids = t.ids
    if ipi_from is not None:
        t.event(Kind.IPI_RECV, ec=ids.idle_ec[0], source_cpu=ipi_from, ipi=Ipi.RRQ)
    s = sw(t, 0, ids.idle_ec[0], ids.root_ec, ids.idle_sc[0], ids.root_sc, SwitchReason.WAKE)
    return s, t.b.hc_exit(0, ids.root_ec, Hc.CTRL_SM, Status.SUCCESS)


def clean(t: Trace) -> None:
    """The trace is a correct kernel run (the reference model finds nothing) and the tables agree with the
    model's state wherever both know the same fact."""
    r = t.run()
    assert r.findings == [], [tuple(f) for f in r.findings]
    tb = tables(t)

    def state(n: int) -> dict[str, Any]:
        return replay_reference(t.platform, t.b.batch(), stop_after=n).snapshot()

    def obj(snap: dict[str, Any], oid: int) -> dict[str, Any]:
        return next(o for o in snap["objects"] if o["id"] == oid)

    for q in tb.interrupts.to_dicts():
        if q["up_idx"] is None:
            continue
        if q["woken_ec"] != 0 and q["arrival_idx"] is not None:  # it waited on the semaphore the interrupt upped
            assert q["woken_ec"] in obj(state(q["arrival_idx"]), q["sm"])["waiters"]
        if q["running_idx"] is not None:  # and then ran on its CPU
            assert state(q["running_idx"] + 1)["cpus"][q["wake_cpu"]]["current_ec"] == q["woken_ec"]
        if q["woken_ec"] == 0 and q["arrival_idx"] is not None:
            assert obj(state(q["arrival_idx"] + 1), q["sm"])["counter"] == q["counter"]
    for p in tb.ipc.to_dicts():
        if p["switch_idx"] is not None:  # the rendezvous linked caller and callee
            assert obj(state(p["switch_idx"] + 1), p["caller"])["callee"] == p["callee"]
    final = r.snapshot()
    open_calls = {o["id"] for o in final["objects"] if o["type"] == "EC" and o["call"] is not None}
    assert open_calls == {h["ec"] for h in rows(tb.hypercalls, outcome="open_at_end")}


# --- interrupts ----------------------------------------------------------------------------------------------


def level_pin_cycle() -> tuple[Trace, int, dict[str, int]]:
    """x86 nova-2024 level pin 16: arrival, mask, up waking the root, EOI, root runs, acknowledges (unmask)."""
    t = Trace(x86())
    sm = pull_int(t, 16)
    assign(t, T)
    down_and_block(t, sm, [(Kind.IRQ_UNMASK, 16, PIN)])
    idle = t.ids.idle_ec[0]
    i = {"arrival": arrive(t, 0x30, 16, PIN, source=0x18)}
    i["mask"] = irq_ev(t, Kind.IRQ_MASK, 16, PIN, IrqCause.ARRIVAL, ec=idle)
    i["up"], i["wake"] = up_wake(t, sm, 16)
    i["eoi"] = irq_ev(t, Kind.IRQ_EOI, 16, PIN, IrqCause.ARRIVAL, ec=idle)
    i["running"], i["exit"] = root_runs(t)
    again = down_and_block(t, sm, [(Kind.IRQ_UNMASK, 16, PIN)])
    i["ack"], i["unmask"] = again["entry"], again["ack"]
    return t, sm, i


def test_level_pin_lifecycle_x86_2024() -> None:
    t, sm, i = level_pin_cycle()
    clean(t)
    root = t.ids.root_ec
    (row,) = tables(t).interrupts.to_dicts()
    expected = {
        "irq": 16,
        "cpu": 0,
        "vector": 0x30,
        "source": 0x18,
        "irq_kind": int(PIN),
        "arrival_idx": i["arrival"],
        "mask_idx": i["mask"],
        "up_idx": i["up"],
        "sm": sm,
        "counter": 0,
        "woken_ec": root,
        "wake_idx": i["wake"],
        "wake_cpu": 0,
        "eoi_idx": i["eoi"],
        "running_idx": i["running"],
        "ack_idx": i["ack"],
        "ack_ec": root,
        "unmask_idx": i["unmask"],
        "unmask_kind": int(Kind.IRQ_UNMASK),
        "outcome": "handled",
        "arrival_ts": ts(t, i["arrival"]),
        "running_ts": ts(t, i["running"]),
        "arrival_to_running": ts(t, i["running"]) - ts(t, i["arrival"]),
    }
    assert sub(row, expected) == expected
    # the reference model agrees: the woken EC waits on sm before the arrival and runs at the running switch
    before = replay_reference(t.platform, t.b.batch(), stop_after=i["arrival"]).snapshot()
    assert next(o for o in before["objects"] if o["id"] == sm)["waiters"] == [root]
    at_run = replay_reference(t.platform, t.b.batch(), stop_after=i["running"] + 1).snapshot()
    assert at_run["cpus"][0]["current_ec"] == root


def test_edge_pin_ups_without_waiter_then_coalesced() -> None:
    t = Trace(x86())
    sm = pull_int(t, 16)
    assign(t, 0)  # edge, unmasked; nobody waits
    arrivals = []
    for counter in (1, 2):
        arrivals.append(arrive(t, 0x30, 16, PIN, cpu=1))
        t.event(
            Kind.SM_UP, cpu=1, ec=t.ids.idle_ec[1], sm=sm, counter=counter, woken=0, up_cause=UpCause.INTERRUPT, irq=16
        )
        irq_ev(t, Kind.IRQ_EOI, 16, PIN, IrqCause.ARRIVAL, cpu=1, ec=t.ids.idle_ec[1])
    clean(t)
    got = [
        (r["arrival_idx"], r["cpu"], r["counter"], r["woken_ec"], r["outcome"]) for r in tables(t).interrupts.to_dicts()
    ]
    assert got == [(arrivals[0], 1, 1, 0, "no_waiter"), (arrivals[1], 1, 2, 0, "coalesced")]


def test_msi_on_another_cpu_wakes_the_waiter_remotely() -> None:
    t = Trace(x86())
    sm = pull_int(t, 30)
    assign(t, 0, cpu=0, out1=0xFEE00018, out2=30)
    down_and_block(t, sm)  # MSIs: nothing to unmask
    a = arrive(t, 0x20 + 30, 30, MSI, cpu=1)
    up, wake = up_wake(t, sm, 30, cpu=1)
    t.event(Kind.IPI_SEND, cpu=1, ec=t.ids.idle_ec[1], target_cpu=0, ipi=Ipi.RRQ)
    eoi = irq_ev(t, Kind.IRQ_EOI, 30, MSI, IrqCause.ARRIVAL, cpu=1, ec=t.ids.idle_ec[1])
    run, _ = root_runs(t, ipi_from=1)
    ack = t.call(Hc.CTRL_SM, None, sel=SEL, flags=D)  # the next down acknowledges (no unmask for an MSI)
    clean(t)
    (row,) = tables(t).interrupts.to_dicts()
    expected = {
        "cpu": 1,
        "arrival_idx": a,
        "mask_idx": None,
        "up_idx": up,
        "wake_idx": wake,
        "wake_cpu": 0,
        "eoi_idx": eoi,
        "running_idx": run,
        "ack_idx": ack,
        "unmask_idx": None,
        "outcome": "handled",
    }
    assert sub(row, expected) == expected


def test_arm_spi_priority_drop_before_up_and_deactivate_on_down() -> None:
    t = Trace(example_arm(cpus=2))
    sm = pull_int(t, 2)
    assign(t, 0)
    down_and_block(t, sm, [(Kind.IRQ_DEACTIVATE, 2, SPI)])
    idle = t.ids.idle_ec[0]
    a = arrive(t, 34, 2, SPI)
    eoi = irq_ev(t, Kind.IRQ_EOI, 2, SPI, IrqCause.ARRIVAL, ec=idle)
    up, _ = up_wake(t, sm, 2)
    run, _ = root_runs(t)
    again = down_and_block(t, sm, [(Kind.IRQ_DEACTIVATE, 2, SPI)])
    clean(t)
    (row,) = tables(t).interrupts.to_dicts()
    expected = {
        "irq": 2,
        "vector": 34,
        "arrival_idx": a,
        "eoi_idx": eoi,
        "up_idx": up,
        "running_idx": run,
        "ack_idx": again["entry"],
        "unmask_idx": again["ack"],
        "unmask_kind": int(Kind.IRQ_DEACTIVATE),
        "outcome": "handled",
    }
    assert sub(row, expected) == expected


def test_2026_x86_level_pin_up_before_eoi_and_directed_eoi_on_down() -> None:
    t = Trace(x86(api="nova-2026"))
    sm = int_sm_2026(t, 16)
    assign26(t, True, SEL, 0x99, T, 7, 0)  # vector index 7 on CPU 0, level
    down_and_block(t, sm, [(Kind.IRQ_DEACTIVATE, 16, PIN)])
    a = arrive(t, 0x27, 16, PIN)
    up, wake = up_wake(t, sm, 16)
    eoi = irq_ev(t, Kind.IRQ_EOI, 16, PIN, IrqCause.ARRIVAL, ec=t.ids.idle_ec[0])
    run, _ = root_runs(t)
    again = down_and_block(t, sm, [(Kind.IRQ_DEACTIVATE, 16, PIN)])
    clean(t)
    (row,) = tables(t).interrupts.to_dicts()
    got = [row[k] for k in ("vector", "arrival_idx", "mask_idx", "up_idx", "eoi_idx", "running_idx", "ack_idx")]
    assert got == [0x27, a, None, up, eoi, run, again["entry"]]
    assert (row["unmask_idx"], row["unmask_kind"], row["outcome"]) == (
        again["ack"],
        int(Kind.IRQ_DEACTIVATE),
        "handled",
    )
    assert wake == up + 1


def test_2026_arm_lpi_row_carries_device_and_event_id() -> None:
    t = Trace(example_arm(cpus=2, api="nova-2026"))
    sm = int_sm_2026(t, 8192)
    dc_2026(t, 0x60, topo=0x10 << 32 | 0x10, dmar=0, intr=0x08080000)
    assign26(t, True, SEL, 0x60, 0, 0, 1, idx=3, out=(0x08080000 + 0x10040, 3))
    a = arrive(t, 8192, 8192, IrqKind.ARM_LPI, cpu=1, source=0x10, eid=3)
    t.event(Kind.SM_UP, cpu=1, ec=t.ids.idle_ec[1], sm=sm, counter=1, woken=0, up_cause=UpCause.INTERRUPT, irq=8192)
    irq_ev(t, Kind.IRQ_EOI, 8192, IrqKind.ARM_LPI, IrqCause.ARRIVAL, cpu=1, ec=t.ids.idle_ec[1])
    clean(t)
    (row,) = tables(t).interrupts.to_dicts()
    expected = {"irq": 8192, "cpu": 1, "source": 0x10, "event_id": 3, "irq_kind": int(IrqKind.ARM_LPI)}
    assert sub(row, expected) == expected
    assert (row["arrival_idx"], row["sm"], row["counter"], row["outcome"]) == (a, sm, 1, "no_waiter")


def woken_not_run() -> tuple[Trace, int]:
    t = Trace(x86())
    sm = pull_int(t, 30)
    assign(t, 0, cpu=0, out1=0xFEE00018, out2=30)
    down_and_block(t, sm)
    a = arrive(t, 0x20 + 30, 30, MSI)
    up_wake(t, sm, 30)
    irq_ev(t, Kind.IRQ_EOI, 30, MSI, IrqCause.ARRIVAL, ec=t.ids.idle_ec[0])
    return t, a


def test_woken_but_not_running_at_trace_end_is_pending() -> None:
    t, a = woken_not_run()
    tb = tables(t)
    (row,) = tb.interrupts.to_dicts()
    assert (row["arrival_idx"], row["running_idx"], row["outcome"]) == (a, None, "pending")
    # the reference model has the same fact: the root's ctrl_sm is still open, and so is its hypercall row
    snap = t.run().snapshot()
    open_calls = {o["id"] for o in snap["objects"] if o["type"] == "EC" and o["call"] is not None}
    assert open_calls == {r["ec"] for r in rows(tb.hypercalls, outcome="open_at_end")} == {t.ids.root_ec}


def test_recorder_gap_before_the_waiter_ran_is_lost() -> None:
    t, a = woken_not_run()
    t.b.skip_seq(0, 3)
    t.event(Kind.MARKER, ec=t.ids.idle_ec[0], marker=0, string=-1)  # the gap shows at this record
    (row,) = tables(t).interrupts.to_dicts()
    assert (row["arrival_idx"], row["outcome"]) == (a, "lost")


def test_next_arrival_before_the_waiter_ran_is_not_run() -> None:
    t, a = woken_not_run()
    b = arrive(t, 0x20 + 30, 30, MSI)
    got = [(r["arrival_idx"], r["outcome"]) for r in tables(t).interrupts.to_dicts()]
    assert got == [(a, "not_run"), (b, "pending")]


def test_vector_without_semaphore_closes_at_the_next_input() -> None:
    t = Trace(x86())
    idle = t.ids.root_ec  # what runs on CPU 0 after boot
    a = t.event(Kind.IRQ_ARRIVAL, ec=idle, vector=0xFD, irq=-1, source=-1, irq_kind=MSI, event_id=-1)
    irq_ev(t, Kind.IRQ_EOI, -1, MSI, IrqCause.ARRIVAL, ec=idle)
    b = t.event(Kind.IRQ_ARRIVAL, ec=idle, vector=0xFE, irq=-1, source=-1, irq_kind=MSI, event_id=-1)
    clean(t)
    got = [(r["arrival_idx"], r["irq"], r["vector"], r["outcome"]) for r in tables(t).interrupts.to_dicts()]
    assert got == [(a, -1, 0xFD, "no_semaphore"), (b, -1, 0xFE, "no_semaphore")]


def test_up_whose_arrival_was_lost() -> None:
    t = Trace(x86())
    sm = pull_int(t, 30)
    assign(t, 0, cpu=0, out1=0xFEE00018, out2=30)
    t.b.skip_seq(0, 2)  # the arrival and more were dropped
    up = t.event(Kind.SM_UP, ec=t.ids.root_ec, sm=sm, counter=1, woken=0, up_cause=UpCause.INTERRUPT, irq=30)
    (row,) = tables(t).interrupts.to_dicts()
    assert (row["irq"], row["arrival_idx"], row["up_idx"], row["outcome"]) == (30, None, up, "lost")


# --- hypercalls ------------------------------------------------------------------------------------------------


EC_A, EC_B = 0x1000, 0x2000


def test_hypercall_pairs_and_every_unmatched_case() -> None:
    b = TraceBuilder(example_x86(cpus=2))
    e1 = b.hc_entry(0, EC_A, Hc.CTRL_PD)
    x1 = b.hc_exit(0, EC_A, Hc.CTRL_PD, Status.BAD_CAP)
    x_orphan = b.hc_exit(1, EC_B, Hc.CTRL_SC, Status.SUCCESS)  # its entry is not in the trace
    e2 = b.hc_entry(0, EC_A, Hc.CTRL_SM, flags=D)
    e3 = b.hc_entry(0, EC_A, Hc.CREATE_SM)  # e2 never exited
    x3 = b.hc_exit(0, EC_A, Hc.CREATE_SM, Status.SUCCESS, created=0x99)
    r1 = b.hc_entry(1, EC_B, Hc.IPC_REPLY)  # never returns
    e4 = b.hc_entry(1, EC_B, Hc.CTRL_EC)
    k = b.event(1, Kind.EC_KILL, ec=EC_B, killed=EC_B, kill_reason=KillReason.ILLEGAL)
    e5 = b.hc_entry(0, EC_A, Hc.CTRL_SC)  # open at the end
    got = [
        (r["entry_idx"], r["exit_idx"], r["cpu"], r["ec"], r["hc"], r["status"], r["duration"], r["outcome"])
        for r in tables(b).hypercalls.to_dicts()
    ]
    tick = b.tick
    assert got == [
        (e1, x1, 0, EC_A, Hc.CTRL_PD, Status.BAD_CAP, (x1 - e1) * tick, "complete"),
        (None, x_orphan, 1, EC_B, Hc.CTRL_SC, Status.SUCCESS, None, "unmatched_exit"),  # ordered by its exit
        (e2, None, 0, EC_A, Hc.CTRL_SM, None, None, "unmatched_entry"),
        (e3, x3, 0, EC_A, Hc.CREATE_SM, Status.SUCCESS, (x3 - e3) * tick, "complete"),
        (r1, None, 1, EC_B, Hc.IPC_REPLY, None, None, "no_exit"),
        (e4, None, 1, EC_B, Hc.CTRL_EC, None, None, "killed"),
        (e5, None, 0, EC_A, Hc.CTRL_SC, None, None, "open_at_end"),
    ]
    assert k > e4


def test_a_source_without_exits_has_no_unmatched_entries() -> None:
    b = TraceBuilder(example_x86(cpus=2))
    e1 = b.hc_entry(0, EC_A, Hc.CTRL_PD)
    e2 = b.hc_entry(0, EC_A, Hc.CREATE_SM)
    got = [(r["entry_idx"], r["outcome"]) for r in derive_tables(2, b.batch(), exits=False).hypercalls.to_dicts()]
    assert got == [(e1, "no_exit"), (e2, "no_exit")]
    got = [(r["entry_idx"], r["outcome"]) for r in tables(b).hypercalls.to_dicts()]
    assert got == [(e1, "unmatched_entry"), (e2, "open_at_end")]


def test_hypercall_open_across_a_gap_is_lost() -> None:
    b = TraceBuilder(example_x86(cpus=2))
    e = b.hc_entry(0, EC_A, Hc.CTRL_SM, flags=D)
    b.skip_seq(0, 5)
    e2 = b.hc_entry(0, EC_A, Hc.CTRL_PD)  # the exit of e was among the lost records
    x2 = b.hc_exit(0, EC_A, Hc.CTRL_PD, Status.SUCCESS)
    x_other = b.hc_exit(0, EC_B, Hc.CTRL_PD, Status.SUCCESS)  # an exit after loss on this CPU: entry lost too
    got = [(r["entry_idx"], r["exit_idx"], r["outcome"]) for r in tables(b).hypercalls.to_dicts()]
    assert got == [(e, None, "lost"), (e2, x2, "complete"), (None, x_other, "lost")]


# --- IPC -------------------------------------------------------------------------------------------------------


def test_ipc_call_rendezvous_reply_and_return() -> None:
    t = Trace(x86())
    n0 = len(t.b.rows)
    local, portal = enter_local(t, mtd=3)
    call = next(i for i in range(n0, len(t.b.rows)) if t.b.rows[i][3] == Kind.HC_ENTRY and t.b.rows[i][5] & 0xF == 0)
    switch = len(t.b.rows) - 1
    ret = reply_to_root(t, local, portal, 5)
    clean(t)
    (row,) = tables(t).ipc.to_dicts()
    expected = {
        "call_idx": call,
        "cpu": 0,
        "caller": t.ids.root_ec,
        "portal": portal,
        "via": 0,
        "callee": local,
        "switch_idx": switch,
        "reply_idx": ret - 2,
        "replier": local,
        "return_idx": ret,
        "status": 0,
        "round_trip": (ret - call) * t.b.tick,
        "outcome": "replied",
    }
    assert sub(row, expected) == expected
    hc = rows(tables(t).hypercalls, entry_idx=call)[0]
    assert (hc["exit_idx"], hc["status"], hc["outcome"]) == (ret, 0, "complete")  # the p0 quirk is SUCCESS


def test_failed_ipc_call() -> None:
    t = Trace(x86())
    x = t.call(Hc.IPC_CALL, Status.BAD_CAP, sel=0x123)
    clean(t)
    (row,) = tables(t).ipc.to_dicts()
    assert (row["call_idx"], row["portal"], row["return_idx"], row["status"], row["outcome"]) == (
        x - 1,
        0x123,
        x,
        int(Status.BAD_CAP),
        "failed",
    )


def test_startup_event_is_an_ipc_to_its_handler() -> None:
    t = Trace(x86())
    g, _sc, handler = start_global(t, 1, 0x300)
    clean(t)
    (row,) = tables(t).ipc.to_dicts()
    ev = rows(pl.DataFrame(t.b.batch()._asdict()).with_row_index("i"), kind=int(Kind.EVENT_DELIVERY))[0]["i"]
    expected = {
        "call_idx": ev,
        "cpu": 1,
        "caller": g,
        "portal": EVT + 32,
        "via": 1,
        "event": 32,
        "callee": handler,
        "switch_idx": ev + 1,
        "reply_idx": ev + 2,
        "replier": handler,
        "return_idx": ev + 3,
        "status": None,
        "outcome": "replied",
    }
    assert sub(row, expected) == expected


def test_killed_callee_aborts_the_call() -> None:
    t = Trace(x86())
    ids = t.ids
    local, portal = enter_local(t)
    kill = t.b.event(0, Kind.EC_KILL, ec=local, killed=local, kill_reason=KillReason.PT_NOT_FOUND)
    sw(t, 0, local, ids.root_ec, ids.root_sc, ids.root_sc, SwitchReason.KILL)
    x = t.b.hc_exit(0, ids.root_ec, Hc.IPC_CALL, Status.ABORTED)
    t.ec = ids.root_ec
    x2 = t.call(Hc.IPC_CALL, Status.ABORTED, sel=portal)  # the dead callee aborts at once
    clean(t)
    got = [(r["callee"], r["reply_idx"], r["return_idx"], r["status"], r["outcome"]) for r in tables(t).ipc.to_dicts()]
    assert got == [(local, None, x, int(Status.ABORTED), "aborted"), (-1, None, x2, int(Status.ABORTED), "aborted")]
    assert kill < x


def test_helping_then_rendezvous_on_the_retry() -> None:
    t = Trace(x86())
    ids = t.ids
    o = _busy_callee(t)
    g2_call = t.b.hc_entry(1, o["g2"], Hc.IPC_CALL, sel=0x320)  # L1 is busy and blocked: G2 helps, parks
    sw(t, 1, o["g2"], ids.idle_ec[1], o["g2sc"], ids.idle_sc[1], SwitchReason.BLOCK)
    t.call(Hc.CTRL_SM, None, sel=0x100)
    t.event(Kind.SM_UP, sm=o["sm"], counter=0, woken=o["l1"], up_cause=UpCause.HYPERCALL, irq=-1)
    t.event(Kind.EC_WAKE, woken=o["l1"], wake_reason=WakeReason.SM_UP, object=o["sm"], target_cpu=1)
    t.event(Kind.IPI_SEND, target_cpu=1, ipi=Ipi.RRQ)
    t.b.hc_exit(0, ids.root_ec, Hc.CTRL_SM, Status.SUCCESS)
    t.b.event(1, Kind.IPI_RECV, ec=ids.idle_ec[1], source_cpu=0, ipi=Ipi.RRQ)
    sw(t, 1, ids.idle_ec[1], o["l1"], ids.idle_sc[1], o["gsc"], SwitchReason.WAKE)
    t.b.hc_exit(1, o["l1"], Hc.CTRL_SM, Status.SUCCESS)
    reply = t.b.hc_entry(1, o["l1"], Hc.IPC_REPLY, p1=7)
    sw(t, 1, o["l1"], o["g"], o["gsc"], o["gsc"], SwitchReason.IPC_REPLY)
    ret = t.b.hc_exit(1, o["g"], Hc.IPC_CALL, hypercall_word(t.platform.api, Hc.IPC_CALL, 0x320), out_p1=7)
    t.b.hc_entry(1, o["g"], Hc.CTRL_SM, sel=0x100, flags=FlagCtrlSm.D)
    t.b.event(1, Kind.SM_BLOCK, ec=o["g"], sm=o["sm"], deadline=0, sc=o["gsc"])
    sw(t, 1, o["g"], o["g2"], o["gsc"], o["g2sc"], SwitchReason.BLOCK)
    retry = sw(t, 1, o["g2"], o["l1"], o["g2sc"], o["g2sc"], SwitchReason.IPC_CALL)  # no new HC_ENTRY
    clean(t)
    calls = rows(tables(t).ipc, via=0)
    got = [(r["caller"], r["callee"], r["reply_idx"], r["return_idx"], r["outcome"]) for r in calls]
    assert got == [(o["g"], o["l1"], reply, ret, "replied"), (o["g2"], o["l1"], None, None, "open_at_end")]
    assert (calls[1]["call_idx"], calls[1]["switch_idx"]) == (g2_call, retry)
    assert [r["outcome"] for r in rows(tables(t).ipc, via=1)] == ["replied", "replied"]  # the two STARTUPs


def test_call_still_waiting_for_its_reply_is_open() -> None:
    t = Trace(x86())
    local, portal = enter_local(t)
    (row,) = tables(t).ipc.to_dicts()
    assert (row["callee"], row["reply_idx"], row["outcome"]) == (local, None, "open_at_end")
    assert (row["portal"], row["switch_idx"] is not None, row["return_idx"]) == (portal, True, None)


# --- streaming -------------------------------------------------------------------------------------------------


def mixed_trace() -> Trace:
    """Interrupts, IPC and hypercalls on two CPUs in one trace."""
    t, _sm, _ = level_pin_cycle()
    local, portal = enter_local(t, sel=0x400)
    reply_to_root(t, local, portal, 1)
    for _ in range(3):
        arrive(t, 0x30 + 4, 20, PIN, cpu=1)
        t.event(Kind.SM_UP, cpu=1, ec=t.ids.idle_ec[1], sm=0x7777, counter=1, woken=0, up_cause=1, irq=20)
    return t


def frames(tb: Tables) -> list[pl.DataFrame]:
    return list(tb)


@pytest.fixture(scope="module")
def mixed() -> tuple[Trace, Tables]:
    t = mixed_trace()
    return t, tables(t)


@given(cuts=st.lists(st.integers(0, 400), max_size=12))
def test_batch_cuts_and_tiny_buffers_change_nothing(mixed: tuple[Trace, Tables], cuts: list[int]) -> None:
    t, whole = mixed
    b = t.b.batch()
    points = sorted({0, b.n, *(c % (b.n + 1) for c in cuts)})
    tb = TableBuilder(t.platform.cpus, True, ec_cap=1, irq_cap=1, out_rows=1)
    for lo, hi in itertools.pairwise(points):
        tb.feed(b.slice(lo, hi))
    for got, want in zip(frames(tb.finish()), frames(whole), strict=True):
        assert got.equals(want)
    assert len(whole.interrupts) == 4 and len(whole.ipc) == 1


def test_event_by_event_with_minimal_buffers(mixed: tuple[Trace, Tables]) -> None:
    """Drains of one row at a time (a one-row chunk must not alias the reused output buffer)."""
    t, whole = mixed
    b = t.b.batch()
    tb = TableBuilder(t.platform.cpus, True, ec_cap=1, irq_cap=1, out_rows=1)
    for i in range(b.n):
        tb.feed(b.slice(i, i + 1))
    for got, want in zip(frames(tb.finish()), frames(whole), strict=True):
        assert got.equals(want)
