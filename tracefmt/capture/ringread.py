"""Find the rings in dump files and decode each CPU's ring into sequence-ordered runs of events.

A ring's slots are read through a memory map as an int64 matrix (no copy) and decoded chunk by chunk by
the numba kernel in ``_kernels``. The oldest record sits at ``write_pos`` once the ring has wrapped; the
decoder checks that order cheaply up front and, if the header disagrees with the records (a dump taken
while the recorder ran, a corrupted header), sorts the slots by sequence number instead. ``salvage`` always
sorts, and drops records whose timestamp goes backwards instead of stopping.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tracefmt.capture import layout as L
from tracefmt.errors import CorruptTraceError, NotATraceError, TraceError
from tracefmt.events import N_KINDS, Kind

CHUNK_ROWS = 1 << 20


class Run(NamedTuple):
    """Decoded records of one CPU, in sequence order."""

    ts: np.ndarray
    seq: np.ndarray
    kind: np.ndarray
    ec: np.ndarray
    a0: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    a3: np.ndarray
    a4: np.ndarray


@dataclass
class RingSummary:
    """What one CPU's ring held and lost; filled while it is decoded."""

    file: str
    offset: int
    cpu: int
    mode: str
    capacity: int
    slots_in_dump: int
    wrap_count: int
    write_pos: int
    dropped: int  # the header's dropped counter
    base_seq: int
    next_seq: int
    records: int = 0  # whole records decoded (the appended loss record not included)
    empty: int = 0
    torn: int = 0
    bad_kind: int = 0
    ts_dropped: int = 0  # salvage: records dropped because their timestamp went backwards
    first_seq: int | None = None
    last_seq: int | None = None
    first_ts: int | None = None
    last_ts: int | None = None
    before_window: int = 0  # records numbered before the first one in the ring: overwritten or consumed
    loss_records: int = 0  # RECORDER_LOSS records the recorder wrote into the ring
    loss_lost: int = 0  # .. and the records they say were dropped
    trailing_lost: int = 0  # lost after the last record: covered by the RECORDER_LOSS the importer appends
    unrecorded_gaps: int = 0
    unrecorded_records: int = 0
    gaps: list[dict[str, int]] = field(default_factory=list)
    sorted_by_seq: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def lost_in_window(self) -> int:
        """Records missing from the ring's window, every one of them in a RECORDER_LOSS record or a gap."""
        return self.loss_lost + self.trailing_lost + self.unrecorded_records


class RingSource:
    """One CPU's ring in a dump file."""

    def __init__(self, path: Path, header: L.RingHeader, file_size: int) -> None:
        self.path = path
        self.h = header
        body = max(0, file_size - header.records_offset)
        self.slots = min(header.capacity, body // header.record_size)
        cut = header.capacity * header.record_size - body
        self.summary = RingSummary(
            file=str(path),
            offset=header.offset,
            cpu=header.cpu,
            mode=L.MODE_NAMES[header.mode],
            capacity=header.capacity,
            slots_in_dump=self.slots,
            wrap_count=header.wrap_count,
            write_pos=header.write_pos,
            dropped=header.dropped,
            base_seq=header.base_seq,
            next_seq=header.next_seq,
        )
        self._header_notes: list[str] = []
        if cut > 0:
            self._header_notes.append(
                f"dump cut off: {header.capacity - self.slots} of {header.capacity} slots missing "
                f"({cut} bytes short of the ring's end at byte {header.offset + header.total_bytes})"
            )

    def rows(self) -> np.ndarray:
        """The slots as a read-only int64 matrix over the file (memory-mapped)."""
        if self.slots == 0:
            return np.zeros((0, L.RECORD_WORDS), np.int64)
        words = self.h.record_size // 8
        mm = np.memmap(self.path, dtype="<i8", mode="r", offset=self.h.records_offset, shape=(self.slots, words))
        return mm[:, : L.RECORD_WORDS] if words != L.RECORD_WORDS else mm

    def pieces(self, rows: np.ndarray) -> list[tuple[int, int]] | None:
        """Slot ranges oldest first, from the header; None if the records contradict it."""
        from tracefmt.capture._kernels import valid_stamps

        n, wp = self.slots, self.h.write_pos
        if wp >= self.h.capacity:
            self.summary.notes.append(f"header write_pos {wp} outside the ring: sorted the slots by sequence number")
            return None
        if self.h.wrap_count == 0:
            return [(0, n)]
        cut = min(wp, n)
        pieces = [(cut, n), (0, cut)]
        # cheap check: the first and the last whole record of each piece must be in sequence order
        probe: dict[int, int] = {}  # slot -> seq
        for lo, hi in pieces:
            for start, stop, last in ((lo, min(hi, lo + 64), False), (max(lo, hi - 64), hi, True)):
                stamps = valid_stamps(_block(rows[start:stop]), N_KINDS)
                good = np.flatnonzero(stamps >= 0)
                if good.size:
                    at = int(good[-1] if last else good[0])
                    probe[start + at] = int(stamps[at])
        order = [probe[slot] for slot in sorted(probe, key=lambda slot: (slot < cut, slot))]
        if any(b <= a for a, b in itertools.pairwise(order)):
            self.summary.notes.append(
                "ring order disagrees with its header (dumped while recording, or a corrupted header): "
                "sorted the slots by sequence number"
            )
            return None
        return pieces

    def runs(self, chunk_rows: int = CHUNK_ROWS, salvage: bool = False) -> Iterator[Run]:
        """Decoded records in sequence order, then (if records are missing at the end) a RECORDER_LOSS record."""
        from tracefmt.capture import _kernels as K

        self.summary.notes = list(self._header_notes)
        self.summary.sorted_by_seq = False
        rows = self.rows()
        st = np.zeros(K.N_DSTATE, np.int64)
        st[K.D_LAST_SEQ] = K.NO_SEQ
        gaps = np.zeros((K.GAP_LOG, 4), np.int64)
        pieces = None if salvage else self.pieces(rows)
        if pieces is None:
            chunks = self._sorted_chunks(rows, chunk_rows, st)
        else:
            chunks = ((lo, rows[lo : min(hi, lo + chunk_rows)]) for a, hi in pieces for lo in range(a, hi, chunk_rows))
        for first_slot, chunk in chunks:
            block = _block(chunk)
            out = Run(*(np.empty(len(block), np.uint8 if name == "kind" else np.int64) for name in Run._fields))
            status, n = K.decode_slots(block, N_KINDS, int(Kind.RECORDER_LOSS), salvage, st, gaps, *out)
            if status != K.OK:
                raise self._order_error(status, st, first_slot, pieces is None)
            if n:
                yield Run(*(col[:n] for col in out))
        self._finish(st, gaps)
        loss = self._trailing_loss()
        if loss is not None:
            yield loss

    def _sorted_chunks(self, rows: np.ndarray, chunk_rows: int, st: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        from tracefmt.capture import _kernels as K

        self.summary.sorted_by_seq = True
        parts = [K.valid_stamps(_block(rows[i : i + chunk_rows]), N_KINDS) for i in range(0, len(rows), chunk_rows)]
        stamps = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        bad = np.flatnonzero(stamps < 0)  # empty, torn or unknown kind: counted here, never decoded
        empty = int(np.count_nonzero((rows[bad, 0] == 0) & (rows[bad, L.COMMIT_WORD] == 0))) if bad.size else 0
        st[K.D_EMPTY] += empty
        st[K.D_TORN] += bad.size - empty
        idx = np.flatnonzero(stamps >= 0)
        idx = idx[np.argsort(stamps[idx], kind="stable")]
        dup = np.flatnonzero(np.diff(stamps[idx]) == 0) + 1
        if dup.size:
            self.summary.notes.append(f"{dup.size} slots repeat another slot's sequence number: ignored")
            idx = np.delete(idx, dup)
        for i in range(0, idx.size, chunk_rows):
            yield int(idx[i]), rows[idx[i : i + chunk_rows]]

    def _order_error(self, status: int, st: np.ndarray, first_slot: int, sorted_rows: bool) -> TraceError:
        from tracefmt.capture import _kernels as K

        where = f"{self.path}: ring of CPU {self.h.cpu} at byte {self.h.offset}"
        at = "" if sorted_rows else f" (slot {first_slot + int(st[K.D_BAD_AT])})"
        if status == K.SEQ_NOT_INCREASING:
            return CorruptTraceError(f"{where}: sequence numbers out of order{at}; --salvage sorts them")
        return CorruptTraceError(
            f"{where}: timestamp goes backwards after seq {int(st[K.D_LAST_SEQ])}{at}; --salvage drops such records"
        )

    def _finish(self, st: np.ndarray, gaps: np.ndarray) -> None:
        from tracefmt.capture import _kernels as K

        s = self.summary
        s.records = int(st[K.D_VALID])
        s.empty, s.torn, s.bad_kind = int(st[K.D_EMPTY]), int(st[K.D_TORN]), int(st[K.D_BAD_KIND])
        s.ts_dropped = int(st[K.D_TS_DROPPED])
        s.loss_records, s.loss_lost = int(st[K.D_LOSS_RECORDS]), int(st[K.D_LOSS_LOST])
        s.unrecorded_gaps, s.unrecorded_records = int(st[K.D_GAPS]), int(st[K.D_GAP_RECORDS])
        s.gaps = [
            {"first_seq": int(g[0]), "count": int(g[1]), "ts_before": int(g[2]), "ts_after": int(g[3])}
            for g in gaps[: min(s.unrecorded_gaps, len(gaps))]
        ]
        if s.records:
            s.first_seq, s.last_seq = int(st[K.D_FIRST_SEQ]), int(st[K.D_LAST_SEQ])
            s.first_ts, s.last_ts = int(st[K.D_FIRST_TS]), int(st[K.D_LAST_TS])
            s.before_window = max(0, s.first_seq - s.base_seq)
        if s.bad_kind:
            s.notes.append(f"{s.bad_kind} whole records with an unknown kind (>= {N_KINDS}): skipped")
        if s.ts_dropped:
            s.notes.append(f"{s.ts_dropped} records whose timestamp went backwards: dropped (--salvage)")

    def _trailing_loss(self) -> Run | None:
        """A RECORDER_LOSS for the numbers after the last record that the header says were used."""
        s, h = self.summary, self.h
        last = s.last_seq if s.last_seq is not None else h.base_seq - 1
        if h.next_seq <= last:
            s.notes.append(f"header next_seq {h.next_seq} is not after the last record's {last}: header stale?")
            return None
        lost = h.next_seq - last - 1
        if lost <= 0:
            return None
        s.trailing_lost = lost
        pending = h.lost_pending > 0
        first_ts = h.lost_first_ts if pending and h.lost_first_seq == last + 1 else -1
        last_ts = h.lost_last_ts if pending else -1
        ts = max(s.last_ts if s.last_ts is not None else 0, last_ts)
        one = np.ones(1, np.int64)
        return Run(
            ts * one,
            h.next_seq * one,
            np.full(1, int(Kind.RECORDER_LOSS), np.uint8),
            -one,  # the current EC is not known
            lost * one,
            first_ts * one,
            last_ts * one,
            (last + 1) * one,
            0 * one,
        )


def _block(rows: np.ndarray) -> np.ndarray:
    """A read-only, C-contiguous plain ndarray (one kernel signature for memory maps and copies alike)."""
    block = np.ascontiguousarray(np.asarray(rows))
    if block.flags.writeable:
        block.flags.writeable = False
    return block


def find_rings(paths: list[Path]) -> list[RingSource]:
    """Every ring in the given files and directories (directories: every file in them holding a ring)."""
    files: list[tuple[Path, bool]] = []
    for p in paths:
        if p.is_dir():
            files.extend((f, False) for f in sorted(p.iterdir()) if f.is_file())
        elif p.exists():
            files.append((p, True))
        else:
            raise NotATraceError(f"{p}: no such file or directory")
    sources: list[RingSource] = []
    skipped: list[str] = []
    for f, named in files:
        found = _rings_in_file(f, named, skipped)
        sources.extend(found)
    if not sources:
        what = ", ".join(str(p) for p in paths)
        raise NotATraceError(f"{what}: no recorder ring found" + (f" ({'; '.join(skipped[:3])})" if skipped else ""))
    return sources


def _rings_in_file(path: Path, named: bool, skipped: list[str]) -> list[RingSource]:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(L.HEADER_SIZE)
        if len(head) < 4 or int.from_bytes(head[:4], "little") != L.RING_MAGIC:
            if named:
                L.parse_header(head, 0, str(path))  # raises with the reason
            skipped.append(f"{path.name}: not a ring")
            return []
        found = [RingSource(path, L.parse_header(head, 0, str(path)), size)]
        offset = found[0].h.total_bytes
        while offset < size:
            f.seek(offset)
            head = f.read(L.HEADER_SIZE)
            if not any(head):  # zero padding after the last ring
                break
            found.append(RingSource(path, L.parse_header(head, offset, str(path)), size))
            offset += found[-1].h.total_bytes
    return found
