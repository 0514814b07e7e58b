"""Loss accounting: sequence gaps are loss (recorded or not), never format errors."""

from __future__ import annotations

import numpy as np

from tracefmt.builder import TraceBuilder
from tracefmt.events import Kind
from tracefmt.io import open_trace
from tracefmt.platform import example_x86
from tracefmt.schema import EventBatch
from tracefmt.validate import check


def _report(b: TraceBuilder, batch_rows: int | None = None):
    batch = b.batch()
    if batch_rows:
        parts = [batch.slice(i, i + batch_rows) for i in range(0, batch.n, batch_rows)]
    else:
        parts = [batch]
    return check(parts, b.platform, "t")


def _markers(b: TraceBuilder, cpu: int, n: int) -> None:
    for _ in range(n):
        b.event(cpu, Kind.MARKER, marker=0, string=-1)


def test_recorded_loss_is_accounted():
    b = TraceBuilder(example_x86(cpus=2))
    _markers(b, 0, 3)  # seq 0..2
    b.skip_seq(0, 5)  # seq 3..7 dropped
    b.event(0, Kind.RECORDER_LOSS, lost=5, first_ts=-1, last_ts=-1, first_seq=3)  # seq 8
    _markers(b, 0, 2)
    r = _report(b)
    assert r.ok, r.errors
    assert len(r.losses) == 1
    loss = r.losses[0]
    assert (loss.cpu, loss.first_seq, loss.count, loss.recorded) == (0, 3, 5, True)


def test_unrecorded_gap_and_wrong_loss_record():
    b = TraceBuilder(example_x86(cpus=2))
    _markers(b, 1, 2)
    b.skip_seq(1, 4)  # 2..5 gone, nobody says so
    _markers(b, 1, 1)
    b.skip_seq(1, 2)  # 7..8 gone, the loss record claims 3
    b.event(1, Kind.RECORDER_LOSS, lost=3, first_seq=7)
    r = _report(b)
    assert r.ok
    assert [(x.first_seq, x.count, x.recorded) for x in r.losses] == [(2, 4, False), (7, 2, False)]
    assert r.lost_records == 6


def test_gaps_across_batch_boundaries_and_cpus():
    b = TraceBuilder(example_x86(cpus=3), first_seq=100)
    for i in range(30):
        cpu = i % 3
        if i == 16:
            b.skip_seq(cpu, 7)
        b.event(cpu, Kind.MARKER, marker=0, string=-1)
    for rows in (None, 1, 4, 7):
        r = _report(b, rows)
        assert r.ok
        assert [(x.cpu, x.first_seq, x.count) for x in r.losses] == [(1, 105, 7)]
        assert r.first_seq == {0: 100, 1: 100, 2: 100}
        assert r.per_cpu.tolist() == [10, 10, 10]


def test_sequence_going_backwards_is_an_error():
    b = TraceBuilder(example_x86(cpus=1))
    _markers(b, 0, 3)
    batch = b.batch()
    seq = batch.seq.copy()
    seq[2] = 1
    r = check([batch._replace(seq=seq)], b.platform, "t")
    assert r.errors == ["t: row 2: CPU 0: sequence number 1 does not follow 1"]


def test_counts_and_time_range(tmp_path):
    b = TraceBuilder(example_x86(cpus=2), start_ts=500, tick=10)
    _markers(b, 0, 4)
    b.event(1, Kind.IPI_SEND, target_cpu=0, ipi=0)
    p = b.write(tmp_path / "t.arrows")
    r = open_trace(p)
    rep = check(r.batches(), r.platform, "t")
    assert (rep.rows, rep.ts_min, rep.ts_max) == (5, 500, 540)
    assert rep.per_kind[int(Kind.MARKER)] == 4 and rep.per_kind[int(Kind.IPI_SEND)] == 1
    assert isinstance(r.read_all(), EventBatch) and np.all(np.diff(r.read_all().ts) > 0)
