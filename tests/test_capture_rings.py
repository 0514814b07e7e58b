"""Recorder rings: writer -> dump -> decoder, with every way a ring loses records, hand-derived.

Expected values come from the recorder protocol in recorder.h, simulated by hand in the comments, and from
the input events themselves - never from the decoder's own output.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from tracefmt.builder import TraceBuilder
from tracefmt.capture import layout as L
from tracefmt.capture.rings import RingDecoder
from tracefmt.capture.ringwrite import ring_images, write_rings
from tracefmt.errors import CorruptTraceError, NotATraceError, TraceError, VersionError
from tracefmt.events import Kind
from tracefmt.io import open_trace
from tracefmt.nova import Hc, Status
from tracefmt.platform import example_arm, example_x86
from tracefmt.schema import COLUMNS, EventBatch, empty_columns
from tracefmt.validate import check

X86 = example_x86(cpus=3)


def decode(paths: list[Path], platform=X86, **kw) -> tuple[EventBatch, RingDecoder]:
    dec = RingDecoder(paths, platform, batch_rows=kw.pop("batch_rows", 64), **kw)
    return dec.read_all(), dec


def one_cpu(n: int, ts0: int = 1000, step: int = 10) -> EventBatch:
    """n SM_UP events on CPU 0, seq 0.., ts ts0, ts0+step, ..., ``counter`` = index (identifies each)."""
    b = TraceBuilder(X86, start_ts=ts0, tick=step)
    for i in range(n):
        b.event(0, Kind.SM_UP, ec=0x1000, sm=0x2000, counter=i, woken=0, up_cause=0, irq=-1)
    return b.batch()


def mixed_trace() -> EventBatch:
    """Three CPUs, interleaved, equal timestamps across CPUs, hypercalls (hc derived), negative ids."""
    b = TraceBuilder(X86, start_ts=5_000, tick=0)
    ec = [0xFFFF800000001000 + 0x100 * c for c in range(3)]
    for i in range(40):
        t = 5_000 + 7 * i
        for c in range(3):
            b.hc_entry(c, ec[c], Hc.CTRL_SM, sel=0x10000 + i, flags=1, ts=t)
            b.event(c, Kind.SM_BLOCK, ec=ec[c], sm=0x3000 + c, deadline=0, sc=0x4000, ts=t + c)
            b.hc_exit(c, ec[c], Hc.CTRL_SM, ret_p0=int(Status.SUCCESS), ts=t + 3)
    return b.batch()


def rows_of(batch: EventBatch) -> list[tuple[int, ...]]:
    return list(zip(*(np.asarray(col).tolist() for col in batch), strict=True))


# --- no loss --------------------------------------------------------------------------------------------------


def test_round_trip_without_loss_is_exact(tmp_path: Path) -> None:
    orig = mixed_trace()
    paths = write_rings(orig, X86, tmp_path, ring_records=1000)
    got, dec = decode(paths)
    assert rows_of(got) == rows_of(orig)  # every column, hc included, in (ts, cpu, seq) order
    assert [s.records for s in dec.result.rings] == [120, 120, 120]
    assert all(s.lost_in_window == 0 and s.before_window == 0 for s in dec.result.rings)


def test_one_file_with_all_rings_decodes_like_separate_files(tmp_path: Path) -> None:
    orig = mixed_trace()
    [path] = write_rings(orig, X86, tmp_path, ring_records=200, one_file=True)
    got, dec = decode([path])
    assert rows_of(got) == rows_of(orig)
    assert [s.offset for s in dec.result.rings] == [0, 128 + 200 * 72, 2 * (128 + 200 * 72)]


# --- overwrite mode: the ring wraps -----------------------------------------------------------------------------


def test_overwrite_ring_keeps_the_newest_records(tmp_path: Path) -> None:
    orig = one_cpu(11)
    [img] = [i for i in ring_images(orig, X86, ring_records=4) if i.cpu == 0]
    # 11 records into 4 slots: written at slots 0,1,2,3,0,1,2,3,0,1,2 -> write_pos 3, two full laps
    assert int(img.header["write_pos"][0]) == 3 and int(img.header["wrap_count"][0]) == 2
    paths = write_rings(orig, X86, tmp_path, ring_records=4)
    got, dec = decode(paths)
    assert got.seq.tolist() == [7, 8, 9, 10] and got.a1.tolist() == [7, 8, 9, 10]  # counter = original index
    assert Kind.RECORDER_LOSS not in got.kind.tolist()
    s = dec.result.rings[0]
    assert (s.before_window, s.lost_in_window, s.torn) == (7, 0, 0)


def test_record_torn_by_the_crash_becomes_a_trailing_loss(tmp_path: Path) -> None:
    # capacity 4, 6 events: e0..e3 fill slots 0..3, e4 -> slot 0, e5 is being written into slot 1 when the
    # machine stops: slot 1 holds stamp 5 with the old commit of seq 1; next_seq = 6, write_pos stays 1.
    orig = one_cpu(6)
    paths = write_rings(orig, X86, tmp_path, ring_records=4, torn=True)
    got, dec = decode(paths)
    assert got.seq.tolist() == [2, 3, 4, 6]
    loss = got.slice(3, 4)
    assert loss.kind[0] == Kind.RECORDER_LOSS and loss.cpu[0] == 0
    assert (loss.a0[0], loss.a1[0], loss.a2[0], loss.a3[0]) == (1, -1, -1, 5)  # seq 5, times unknown
    assert loss.ts[0] == orig.ts[4] and loss.ec[0] == -1
    s = dec.result.rings[0]
    assert (s.torn, s.trailing_lost, s.before_window) == (1, 1, 2)
    rep = check([got], X86, "t")
    assert rep.ok and [(x.first_seq, x.count, x.recorded) for x in rep.losses] == [(5, 1, True)]


# --- drop mode: the ring overflows ------------------------------------------------------------------------------


def test_drop_ring_without_consumer_keeps_the_oldest_and_counts_the_rest(tmp_path: Path) -> None:
    orig = one_cpu(10)
    paths = write_rings(orig, X86, tmp_path, ring_records=4, mode="drop")
    got, dec = decode(paths)
    # e0..e3 written (seq 0..3); e4..e9 dropped (seq 4..9), so the importer appends the loss record as seq 10
    assert got.seq.tolist() == [0, 1, 2, 3, 10]
    assert got.a1.tolist()[:4] == [0, 1, 2, 3]
    assert got.kind[4] == Kind.RECORDER_LOSS
    assert (got.a0[4], got.a1[4], got.a2[4], got.a3[4]) == (6, orig.ts[4], orig.ts[9], 4)
    assert got.ts[4] == orig.ts[9]
    s = dec.result.rings[0]
    assert (s.dropped, s.trailing_lost, s.loss_lost, s.lost_in_window) == (6, 6, 0, 6)
    rep = check([got], X86, "t")
    assert rep.ok and [(x.first_seq, x.count, x.recorded) for x in rep.losses] == [(4, 6, True)]


def test_drop_ring_with_a_consumer_records_its_own_losses(tmp_path: Path) -> None:
    """Wrap and overflow in one ring, simulated by hand (capacity 4, events at ts 0..9, drains at ts 5, 10):

    e0..e3 -> seq 0..3, slots 0..3 (wrap 1); e4 dropped (seq 4, ring full); at ts 5 the consumer has taken
    all 4, so LOSS(lost 1, ts 4..4, first 4) -> seq 5 slot 0, e5 -> seq 6 slot 1, e6 -> seq 7 slot 2,
    e7 -> seq 8 slot 3 (wrap 2); e8, e9 dropped (seq 9, 10; ts 8, 9); next_seq 11.
    """
    orig = one_cpu(10, ts0=0, step=1)
    paths = write_rings(orig, X86, tmp_path, ring_records=4, mode="drop", drain_period=5)
    got, dec = decode(paths)
    assert got.seq.tolist() == [5, 6, 7, 8, 11]
    assert got.kind.tolist() == [Kind.RECORDER_LOSS, Kind.SM_UP, Kind.SM_UP, Kind.SM_UP, Kind.RECORDER_LOSS]
    assert got.a1.tolist()[1:4] == [5, 6, 7]  # e5..e7 survived
    assert [(got.a0[i], got.a1[i], got.a2[i], got.a3[i]) for i in (0, 4)] == [(1, 4, 4, 4), (2, 8, 9, 9)]
    assert got.ts.tolist() == [5, 5, 6, 7, 9]
    s = dec.result.rings[0]
    assert (s.wrap_count, s.write_pos, s.dropped) == (2, 0, 3)
    assert (s.loss_records, s.loss_lost, s.trailing_lost, s.before_window) == (1, 1, 2, 4)
    rep = check([got], X86, "t")
    assert rep.ok and [(x.first_seq, x.count, x.recorded) for x in rep.losses] == [(9, 2, True)]


def bursty_trace(n: int, cpus: int, seed: int) -> dict[str, np.ndarray]:
    """A synthesized-like trace: bursts of 1..8 events per CPU, time advancing 0..30 ticks per event."""
    rng = np.random.default_rng(seed)
    cols = empty_columns(n)
    runs = rng.integers(1, 9, n)
    cpu = np.repeat(rng.integers(0, cpus, n), runs)[:n]
    cols["cpu"][:] = cpu
    cols["ts"][:] = 1_000 + np.cumsum(rng.integers(0, 31, n))
    for c in range(cpus):
        m = cpu == c
        cols["seq"][m] = np.arange(int(m.sum()))
    kinds = [Kind.HC_ENTRY, Kind.HC_EXIT, Kind.SM_BLOCK, Kind.OBJ_CREATED]  # kinds without enumerated words
    cols["kind"][:] = rng.choice([int(k) for k in kinds], n)
    cols["ec"][:] = np.arange(n)  # identifies every event
    for w in ("a0", "a1", "a2", "a3", "a4"):
        cols[w][:] = rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64)
    return cols


@pytest.mark.parametrize("mode", ["overwrite", "drop"])
def test_round_trip_loses_exactly_what_the_ring_lost(tmp_path: Path, mode: str) -> None:
    """Done-means of issue 5: import == original minus what the ring lost, and those losses reported exactly."""
    cols = bursty_trace(12_000, cpus=3, seed=7 if mode == "drop" else 8)
    # drop: ~440 events per CPU arrive between two drains of a 300-record ring, so every period overflows
    kw = {"drain_period": 20_000, "ring_records": 300} if mode == "drop" else {"ring_records": 1500}
    paths = write_rings(cols, X86, tmp_path, mode=mode, torn=True, **kw)
    got, dec = decode(paths, batch_rows=1000)
    rep = check([got], X86, "t")
    assert rep.ok, rep.errors
    assert all(loss.recorded for loss in rep.losses)
    loss_rows = got.kind == Kind.RECORDER_LOSS
    for c, s in enumerate(dec.result.rings):
        mine = got.cpu == c
        events = got.ec[mine & ~loss_rows]  # original event ids (ec) that survived, in order
        orig_ids = cols["ec"][cols["cpu"] == c]
        first, last = (int(np.flatnonzero(orig_ids == e)[0]) for e in (events[0], events[-1]))
        window = orig_ids[first:]
        missing = np.setdiff1d(window, events)
        # surviving rows are the original rows, unchanged except seq
        idx = np.searchsorted(cols["ec"], events)
        for name in ("ts", "kind", "a0", "a1", "a2", "a3", "a4"):
            assert np.array_equal(got._asdict()[name][mine & ~loss_rows], cols[name][idx]), name
        # every original event after the first survivor that is not in the import is in a RECORDER_LOSS row
        # (a loss row that is the CPU's first row covers events before the first survivor)
        later = got.seq > got.seq[mine][0]
        in_window_loss = int(got.a0[mine & loss_rows & later].sum())
        first_row_loss = int(got.a0[mine & loss_rows & ~later].sum())
        assert missing.size == in_window_loss, (c, missing.size, in_window_loss)
        assert s.unrecorded_gaps == 0 and s.lost_in_window == in_window_loss + first_row_loss
        # seq: the recorder's number = the input's + loss records it wrote before (in the window, or earlier
        # and since overwritten or consumed: a constant for the window)
        n_loss_before = np.cumsum(loss_rows[mine])[~loss_rows[mine]]
        shift = got.seq[mine & ~loss_rows] - cols["seq"][idx] - n_loss_before
        assert shift.min() == shift.max() >= 0
        assert last == len(orig_ids) - 2  # the last event was torn by the "crash"
    assert sum(s.trailing_lost for s in dec.result.rings) >= 3  # at least each CPU's torn record
    if mode == "drop":
        assert all(
            s.loss_records >= 1 and s.dropped > s.loss_lost for s in dec.result.rings
        )  # some drops left the window
    else:
        assert all(s.wrap_count >= 2 and s.before_window > 0 for s in dec.result.rings)


# --- damaged dumps ----------------------------------------------------------------------------------------------


def test_dump_cut_off_mid_record_keeps_the_complete_slots(tmp_path: Path) -> None:
    orig = one_cpu(8)
    [p0, *_] = write_rings(orig, X86, tmp_path, ring_records=8)
    data = p0.read_bytes()
    p0.write_bytes(data[: 128 + 5 * 72 + 30])  # 5 whole slots and 30 bytes of the sixth
    got, dec = decode([p0])
    assert got.seq.tolist() == [0, 1, 2, 3, 4, 8]  # seq 5..7 are gone: one loss record, numbered next_seq
    assert (got.a0[-1], got.a3[-1]) == (3, 5)
    s = dec.result.rings[0]
    assert s.slots_in_dump == 5 and any("dump cut off: 3 of 8 slots missing" in n for n in s.notes)


def test_a_corrupted_slot_in_the_middle_is_an_unrecorded_gap(tmp_path: Path) -> None:
    orig = one_cpu(8)
    [p0, *_] = write_rings(orig, X86, tmp_path, ring_records=8)
    data = bytearray(p0.read_bytes())
    data[128 + 3 * 72 + 65] ^= 0x01  # the sequence number in slot 3's commit word (seq 3)
    p0.write_bytes(bytes(data))
    got, dec = decode([p0])
    assert got.seq.tolist() == [0, 1, 2, 4, 5, 6, 7]
    s = dec.result.rings[0]
    assert (s.torn, s.unrecorded_gaps, s.unrecorded_records) == (1, 1, 1)
    assert s.gaps == [{"first_seq": 3, "count": 1, "ts_before": int(orig.ts[2]), "ts_after": int(orig.ts[4])}]
    rep = check([got], X86, "t")
    assert [(x.first_seq, x.count, x.recorded) for x in rep.losses] == [(3, 1, False)]


def test_a_header_that_contradicts_its_records_falls_back_to_sorting(tmp_path: Path) -> None:
    orig = one_cpu(11)
    [p0, *_] = write_rings(orig, X86, tmp_path, ring_records=4)
    data = bytearray(p0.read_bytes())
    data[32:40] = (1).to_bytes(8, "little")  # write_pos 3 -> 1: the oldest record is really in slot 3
    p0.write_bytes(bytes(data))
    got, dec = decode([p0])
    assert got.seq.tolist() == [7, 8, 9, 10]
    assert dec.result.rings[0].sorted_by_seq


def test_timestamps_going_backwards_stop_the_import_unless_salvaging(tmp_path: Path) -> None:
    orig = one_cpu(6)
    [p0, *_] = write_rings(orig, X86, tmp_path, ring_records=8)
    data = bytearray(p0.read_bytes())
    data[128 + 4 * 72 + 8 : 128 + 4 * 72 + 16] = (5).to_bytes(8, "little")  # ts of seq 4 before seq 3's
    p0.write_bytes(bytes(data))
    with pytest.raises(CorruptTraceError, match=rf"{p0}: ring of CPU 0 at byte 0: timestamp goes backwards .*slot 4"):
        decode([p0])
    got, dec = decode([p0], salvage=True)
    assert got.seq.tolist() == [0, 1, 2, 3, 5]
    assert dec.result.rings[0].ts_dropped == 1


def _ring_file(tmp_path: Path, name: str, platform=X86, **header: int) -> Path:
    [img, *_] = ring_images(one_cpu(3), platform, ring_records=4)
    for k, v in header.items():
        img.header[k] = v
    path = tmp_path / name
    path.write_bytes(img.tobytes())
    return path


def test_input_errors_are_one_line_trace_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x7fELF" + bytes(300))
    with pytest.raises(NotATraceError, match=rf"^{garbage}: byte 0: not a novatrace recorder ring"):
        decode([garbage])
    with pytest.raises(NotATraceError, match="no such file"):
        decode([tmp_path / "missing"])
    a = _ring_file(tmp_path, "a.ring")
    with pytest.raises(TraceError, match="a second ring for CPU 0"):
        decode([a, _ring_file(tmp_path, "b.ring")])
    with pytest.raises(VersionError, match=r"c.ring: byte 0: ring format version 7"):
        decode([a, _ring_file(tmp_path, "c.ring", cpu=1, version=7)])
    with pytest.raises(TraceError, match="ring of CPU 5, but the platform has 3 CPUs"):
        decode([_ring_file(tmp_path, "d.ring", cpu=5)])
    with pytest.raises(TraceError, match="rings disagree on the STC frequency"):
        decode([a, _ring_file(tmp_path, "e.ring", cpu=1, stc_hz=123)])
    empty = tmp_path / "empty.ring"
    empty.write_bytes(b"")
    with pytest.raises(NotATraceError, match="no recorder ring found"):
        decode([empty])


def test_directory_skips_files_that_are_not_rings_and_the_ring_clock_wins(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("dumped by hand")
    _ring_file(tmp_path, "cpu0.ring", stc_hz=1_000_000)
    got, dec = decode([tmp_path])
    assert got.n == 3 and dec.result.platform.stc_hz == 1_000_000
    assert any("using the rings' 1000000 Hz" in w for w in dec.result.warnings)
    assert any("no ring for CPU 1, 2" in w for w in dec.result.warnings)


def test_arm_platform_and_hypercall_codes(tmp_path: Path) -> None:
    arm = example_arm(cpus=2, api="nova-2026")
    b = TraceBuilder(arm)
    b.hc_entry(1, 0x10, Hc.ASSIGN_INT, sel=0x55, flags=1)  # nova-2026 number 0xf
    b.hc_exit(1, 0x10, Hc.ASSIGN_INT, ret_p0=0)
    paths = write_rings(b.batch(), arm, tmp_path, ring_records=4)
    got, _ = decode(paths, platform=arm)
    assert got.hc.tolist() == [int(Hc.ASSIGN_INT)] * 2


# --- command line -----------------------------------------------------------------------------------------------


def novatrace(*args: str) -> tuple[int, str, str]:
    """Run the CLI in-process. (click's CliRunner, because cli.main.main() drops the code of ctx.exit(1).)"""
    from click.testing import CliRunner

    from cli.main import cli

    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_cli_import_rings(tmp_path: Path) -> None:
    plat = tmp_path / "platform.json"
    plat.write_text(X86.to_json())
    dump = tmp_path / "dump"
    write_rings(one_cpu(10), X86, dump, ring_records=4, mode="drop")
    out = tmp_path / "t.parquet"
    code, stdout, _ = novatrace("import", "rings", str(dump), "--platform", str(plat), "-o", str(out), "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["events"] == 5 and report["cpus"][0]["trailing_lost"] == 6
    reader = open_trace(out)
    cap = reader.meta.provenance["capture"]
    assert cap["source"] == "rings" and cap["rings"][0]["dropped"] == 6
    assert any("6 lost inside the window" in n for n in cap["notes"])
    assert reader.read_all().n == 5
    assert main(["import", "rings", str(dump), "--platform", str(plat), "-o", str(out)]) == 2  # exists
    assert main(["import", "rings", str(dump), "--platform", str(tmp_path / "nope.json"), "-o", str(out)]) == 2
    # a damaged dump imports (salvaged) but exits 1
    [ring] = sorted(dump.iterdir())[:1]
    data = bytearray(ring.read_bytes())
    data[128 + 1 * 72 + 65] ^= 1  # seq 1's commit no longer matches its stamp
    ring.write_bytes(bytes(data))
    code, _, stderr = novatrace("import", "rings", str(ring), "--platform", str(plat), "-o", str(tmp_path / "d.arrows"))
    assert code == 1
    assert "gaps no RECORDER_LOSS explains" in stderr


def test_columns_have_the_schema_types(tmp_path: Path) -> None:
    paths = write_rings(mixed_trace(), X86, tmp_path, ring_records=50)
    got, _ = decode(paths)
    assert [c.dtype for c in got] == list(COLUMNS.values())


def test_slot_ranges_of_a_wrapped_ring() -> None:
    from tracefmt.capture.rings import slot_ranges

    # 8 slots, oldest record in slot 3: positions 0..4 are slots 3..7, positions 5..7 are slots 0..2
    assert slot_ranges(0, 8, 8, 3) == [(3, 8), (0, 3)]
    assert slot_ranges(2, 7, 8, 3) == [(5, 8), (0, 2)]
    assert slot_ranges(0, 4, 8, 3) == [(3, 7)]
    assert slot_ranges(6, 8, 8, 3) == [(1, 3)]
    assert slot_ranges(0, 5, 8, 0) == [(0, 5)]


def test_layout_constants_used_by_the_writer(tmp_path: Path) -> None:
    [img, *_] = ring_images(one_cpu(2), X86, ring_records=2)
    raw = img.tobytes()
    assert len(raw) == L.HEADER_SIZE + 2 * L.RECORD_SIZE
    assert L.parse_header(raw, 0, "x").next_seq == 2
