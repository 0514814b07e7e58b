"""The synthesized event table itself: determinism, bounded batches, every kind present, ground truth that
points at real events, and NOVA's rules checked independently over the events (not with the generator's code)."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from synth.config import load_config
from synth.faults import labels_path
from synth.run import synthesize
from tracefmt.events import IrqCause, IrqKind, Kind, UpCause, WakeReason
from tracefmt.io import open_trace
from tracefmt.nova import Hc, Status
from tracefmt.validate import check

SMALL = {"cpus": 4, "devices": 8, "irqs_per_device": 3, "events": 4000}


def _make(tmp: Path, scenario: str = "healthy", name: str = "t.parquet", **kw) -> Path:
    out = tmp / name
    synthesize(load_config(scenario, **{**SMALL, **kw}), out)
    return out


def _events(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path).with_row_index("row")


def test_same_seed_same_bytes_other_seed_other_trace(tmp_path: Path) -> None:
    a = _make(tmp_path, "lost-irq", "a.parquet", seed=7)
    b = _make(tmp_path, "lost-irq", "b.parquet", seed=7)
    c = _make(tmp_path, "lost-irq", "c.parquet", seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert labels_path(a).read_bytes() == labels_path(b).read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_small_batches_give_the_same_trace(tmp_path: Path) -> None:
    """Batches end between episodes and the state carries over: memory is bounded by the batch, not the trace."""
    big = _make(tmp_path, "latency", "big.parquet", events=20_000)
    small = _make(tmp_path, "latency", "small.parquet", events=20_000, batch_rows=1000)
    assert pl.read_parquet(big).equals(pl.read_parquet(small))
    assert pl.read_parquet(labels_path(big)).equals(pl.read_parquet(labels_path(small)))


@pytest.mark.parametrize(("arch", "api"), [("x86_64", "nova-2024"), ("aarch64", "nova-2026"),
                                           ("x86_64", "nova-2026"), ("aarch64", "nova-2024")])  # fmt: skip
def test_healthy_has_every_kind_and_passes_validation(tmp_path: Path, arch: str, api: str) -> None:
    out = _make(tmp_path, arch=arch, api=api)
    kinds = set(pl.read_parquet(out)["kind"].unique().to_list())
    assert {k.name for k in Kind} - {Kind(k).name for k in kinds} == set()
    r = open_trace(out)
    report = check(r.batches(), r.platform, str(out))
    assert report.error_count == 0, report.errors
    assert [loss.recorded for loss in report.losses] == [True]  # the one labelled loss, with its record


# what each fault's labelled event must be (kind, and how its subject shows in that event)
LABEL_EVENT = {
    "lost_irq/never_arrived": (Kind.MARKER, "a1"),
    "lost_irq/edge_while_masked": (Kind.MARKER, "a1"),
    "lost_irq/level_never_unmasked": (Kind.EC_KILL, None),
    "lost_irq/wrong_cpu": (Kind.IRQ_ARRIVAL, None),
    "misroute/wrong_cpu": (Kind.IRQ_ARRIVAL, "a1"),
    "misroute/unauthorised_source": (Kind.INTR_FAULT, "a0"),
    "misroute/unassigned": (Kind.IRQ_ARRIVAL, "a1"),
    "misroute/stale_route": (Kind.IRQ_ARRIVAL, None),
    "latency/preempted": (Kind.IRQ_ARRIVAL, "a1"),
    "latency/budget_exhausted": (Kind.TIMEOUT, None),
    "latency/ipi_storm": (Kind.IPI_SEND, None),
    "recorder_loss/dropped_records": (Kind.RECORDER_LOSS, None),
    "divergence/wrong_status": (Kind.HC_EXIT, None),
    "divergence/missing_wake": (None, None),
    "divergence/wrong_wake": (Kind.SM_UP, None),
}


@pytest.mark.parametrize(("arch", "api"), [("x86_64", "nova-2024"), ("aarch64", "nova-2026"), ("x86_64", "nova-2026")])
def test_every_label_points_at_its_event(tmp_path: Path, arch: str, api: str) -> None:
    out = _make(tmp_path, arch=arch, api=api, events=20_000, lost_irq=0.01, misroute=0.01, latency=0.01,
                divergence=0.005, recorder_loss=0.002)  # fmt: skip
    ev = _events(out)
    labels = pl.read_parquet(labels_path(out))
    assert labels.height >= 8
    assert set(labels["category"]) >= {"lost_irq", "misroute", "latency", "recorder_loss", "divergence"}
    for lab in labels.iter_rows(named=True):
        row = ev.row(lab["event"], named=True)
        assert (row["ts"], row["cpu"], row["seq"], row["kind"]) == (lab["ts"], lab["cpu"], lab["seq"], lab["kind"])
        kind, word = LABEL_EVENT[lab["fault"]]
        if kind is not None:
            assert row["kind"] == kind, lab
        if word is not None:
            assert row[word] == lab["subject"], lab
        json.loads(lab["params"])
        if lab["fault"] == "recorder_loss/dropped_records":
            assert row["a0"] == json.loads(lab["params"])["lost"] > 0
        if lab["fault"] == "lost_irq/never_arrived":  # the expected interrupt indeed never arrives later
            later = ev.filter((pl.col("row") > lab["event"]) & (pl.col("kind") == Kind.IRQ_ARRIVAL)
                              & (pl.col("a1") == lab["subject"]))  # fmt: skip
            assert later.height == 0, lab


# --- NOVA rules, checked over the events ---------------------------------------------------------------------


@pytest.fixture(scope="module", params=[("x86_64", "nova-2024"), ("aarch64", "nova-2024"), ("x86_64", "nova-2026")])
def storm_trace(request, tmp_path_factory) -> pl.DataFrame:
    arch, api = request.param
    out = _make(tmp_path_factory.mktemp("rules"), "storm", arch=arch, api=api, events=20_000)
    return _events(out).with_columns(arch=pl.lit(arch), api=pl.lit(api))


def test_sorted_and_sequence_numbers_contiguous_except_recorded_loss(storm_trace: pl.DataFrame) -> None:
    ev = storm_trace
    key = ev.select("ts", "cpu", "seq").to_numpy()
    assert (np.lexsort(key.T[::-1]) == np.arange(len(key))).all()
    per_cpu = ev.sort("cpu", "seq").with_columns(gap=pl.col("seq").diff().over("cpu"))
    jumps = per_cpu.filter(pl.col("gap") != 1)
    for r in jumps.iter_rows(named=True):  # a jump is exactly the RECORDER_LOSS that reports it
        assert r["kind"] == Kind.RECORDER_LOSS and r["gap"] - 1 == r["a0"]


def test_semaphore_counters_and_fifo_wakes(storm_trace: pl.DataFrame) -> None:
    ups = storm_trace.filter(pl.col("kind") == Kind.SM_UP)
    # a semaphore with a waiter has counter 0; counters never exceed 2^64-1 (stored -1 only for the drop)
    assert ups.filter((pl.col("a2") != 0) & (pl.col("a1") != 0)).height == 0
    assert ups.filter(pl.col("a1") < 0).height == 0
    assert set(ups["a3"].to_list()) <= {int(c) for c in UpCause}
    # FIFO: each up wakes the EC that blocked first (timeouts leave the queue)
    queues: dict[int, deque[int]] = defaultdict(deque)
    rows = storm_trace.filter(pl.col("kind").is_in([Kind.SM_BLOCK, Kind.SM_UP, Kind.EC_WAKE]))
    checked = 0
    for r in rows.iter_rows(named=True):
        if r["kind"] == Kind.SM_BLOCK:
            queues[r["a0"]].append(r["ec"])
        elif r["kind"] == Kind.SM_UP and r["a2"] != 0:
            q = queues[r["a0"]]
            if q:
                assert q.popleft() == r["a2"], r
                checked += 1
        elif r["kind"] == Kind.EC_WAKE and r["a1"] == WakeReason.TIMEOUT:
            q = queues[r["a2"]]
            if r["a0"] in q:
                q.remove(r["a0"])
    assert checked > 100


def test_level_pins_stay_masked_until_the_drivers_down(storm_trace: pl.DataFrame) -> None:
    """x86 nova-2024 masks a level pin on arrival; nova-2026 pins and Arm SPIs stay active: either way the line
    cannot deliver again until the driver's ctrl_sm down unmasks / deactivates it."""
    ev = storm_trace
    wired = ev.filter((pl.col("kind") == Kind.IRQ_ARRIVAL) & pl.col("a3").is_in([IrqKind.X86_PIN, IrqKind.ARM_SPI]))
    pins = wired.filter(pl.col("a1") >= 0)["a1"].unique()
    assert not pins.is_empty()
    is_2024 = ev["arch"][0] == "x86_64" and ev["api"][0] == "nova-2024"
    seen = 0
    for pin in pins.to_list():
        state = "unmasked"
        irq_state = pl.col("kind").is_in([Kind.IRQ_MASK, Kind.IRQ_UNMASK, Kind.IRQ_DEACTIVATE]) & (pl.col("a0") == pin)
        rows = ev.filter(irq_state | ((pl.col("kind") == Kind.IRQ_ARRIVAL) & (pl.col("a1") == pin)))
        for r in rows.iter_rows(named=True):
            k = r["kind"]
            if k == Kind.IRQ_ARRIVAL and r["a1"] == pin:
                assert state == "unmasked", r  # a masked (or still active) level pin cannot deliver
                state = "pending-mask" if is_2024 else "active"
                seen += 1
            elif k == Kind.IRQ_MASK and r["a2"] == IrqCause.ARRIVAL:
                assert state == "pending-mask"
                state = "masked"
            elif k in (Kind.IRQ_UNMASK, Kind.IRQ_DEACTIVATE) and r["a2"] == IrqCause.DOWN:
                state = "unmasked"
    assert seen > 0


def test_hypercall_statuses_are_nova_status_codes(storm_trace: pl.DataFrame) -> None:
    exits = storm_trace.filter(pl.col("kind") == Kind.HC_EXIT)
    valid = {int(s) for s in Status}
    calls = exits.filter(pl.col("hc") == Hc.IPC_CALL)
    others = exits.filter(pl.col("hc") != Hc.IPC_CALL)
    assert set(others["a0"].to_list()) <= valid
    # a successful ipc_call returns the caller's own hypercall word (p0 low nibble = the call's number 0)
    assert set((calls["a0"] & 0xF).to_list()) <= {0} | valid
    assert others.filter(pl.col("a0") != Status.SUCCESS).height > 0  # some calls fail, as NOVA would answer


def test_labels_table_schema(tmp_path: Path) -> None:
    out = _make(tmp_path, "misroute", events=5000, misroute=0.05)
    t = pq.read_table(labels_path(out))
    assert t.column_names == ["fault", "category", "ts", "cpu", "seq", "event", "kind", "subject", "params"]
    ev = pl.read_parquet(out)
    assert not set(ev.columns) & {"fault", "label"}  # ground truth never inside the event table
