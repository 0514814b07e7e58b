"""Find the rings in dump files and prepare each CPU's ring for the decoder.

A ring's slots are memory-mapped as an int64 matrix (one row per slot, no copy). Once the ring has wrapped,
its oldest record sits at ``write_pos``; the decoder walks the slots from there. Before it does, a cheap probe
checks that the records agree with that order; if they do not (a dump taken while the recorder ran, a
corrupted header), the whole records are sorted by sequence number instead - as they always are with
``salvage``. Pages the decoder has passed are released again, so resident memory stays bounded however
large the dump.
"""

from __future__ import annotations

import itertools
import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tracefmt.capture import layout as L
from tracefmt.errors import NotATraceError
from tracefmt.events import N_KINDS

PROBE = 64  # slots looked at at each end of each piece to check the header's order


@dataclass
class RingSummary:
    """What one CPU's ring held and lost; complete once the ring has been decoded."""

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
    before_window: int = 0  # records numbered before the ring's oldest one (overwritten or consumed), not
    # counting those the oldest record itself reports lost if it is a RECORDER_LOSS
    loss_records: int = 0  # RECORDER_LOSS records the recorder wrote into the ring
    loss_lost: int = 0  # .. and the records they say were dropped
    trailing_lost: int = 0  # lost after the last record: the RECORDER_LOSS the importer appends covers them
    unrecorded_gaps: int = 0
    unrecorded_records: int = 0
    gaps: list[dict[str, int]] = field(default_factory=list)
    sorted_by_seq: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def lost_in_window(self) -> int:
        """Records missing between the ring's oldest record and ``next_seq``."""
        return self.loss_lost + self.trailing_lost + self.unrecorded_records


class RingSource:
    """One CPU's ring in a dump file."""

    def __init__(self, path: Path, header: L.RingHeader, file_size: int) -> None:
        self.path = path
        self.h = header
        body = max(0, file_size - header.records_offset)
        self.slots = min(header.capacity, body // header.record_size)
        self._map: mmap.mmap | None = None
        self._map_skew = 0
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
        short = header.capacity * header.record_size - body
        self.header_notes = []
        if short > 0:
            self.header_notes.append(
                f"dump cut off: {header.capacity - self.slots} of {header.capacity} slots missing "
                f"({short} bytes short of the ring's end at byte {header.offset + header.total_bytes})"
            )

    def rows(self) -> np.ndarray:
        """The slots as a read-only int64 matrix mapped from the file (record_size / 8 words per row)."""
        words = self.h.record_size // 8
        if self.slots == 0:
            return _readonly(np.zeros((0, words), np.int64))
        start = self.h.records_offset
        self._map_skew = start % mmap.ALLOCATIONGRANULARITY
        length = self.slots * self.h.record_size
        with open(self.path, "rb") as f:
            self._map = mmap.mmap(
                f.fileno(), length + self._map_skew, access=mmap.ACCESS_READ, offset=start - self._map_skew
            )
        return np.frombuffer(self._map, "<i8", self.slots * words, self._map_skew).reshape(self.slots, words)

    def release(self, first_slot: int, end_slot: int) -> None:
        """Drop the mapped pages of slots ``first_slot .. end_slot-1`` from memory (they are not needed again)."""
        if self._map is None or end_slot <= first_slot or not hasattr(mmap, "MADV_DONTNEED"):
            return
        page = mmap.PAGESIZE
        lo = -(-(self._map_skew + first_slot * self.h.record_size) // page) * page
        hi = (self._map_skew + end_slot * self.h.record_size) // page * page
        if hi > lo:
            self._map.madvise(mmap.MADV_DONTNEED, lo, hi - lo)

    def order(self, rows: np.ndarray, salvage: bool) -> tuple[np.ndarray, int, int, int]:
        """(rows to decode, slot of the oldest record, empty slots, torn slots already counted).

        Normally the mapped rows and ``write_pos`` (the decoder counts empty and torn slots itself); a sorted
        copy of the whole records if the header's order is contradicted, or with ``salvage``.
        """
        cut = self._cut(rows) if not salvage else None
        if cut is not None:
            return rows, cut, 0, 0
        return self._sorted(rows)

    def _cut(self, rows: np.ndarray) -> int | None:
        from tracefmt.capture._kernels import valid_stamps

        n, wp = self.slots, self.h.write_pos
        if wp >= self.h.capacity:
            self.summary.notes.append(f"header write_pos {wp} outside the ring: sorted the slots by sequence number")
            return None
        if self.h.wrap_count == 0:
            return 0
        cut = min(wp, n)
        probe: dict[int, int] = {}  # slot -> seq of the first and last whole record of each piece
        for lo, hi in ((cut, n), (0, cut)):
            for start, stop, last in ((lo, min(hi, lo + PROBE), False), (max(lo, hi - PROBE), hi, True)):
                stamps = valid_stamps(_readonly(np.ascontiguousarray(rows[start:stop])), N_KINDS)
                good = np.flatnonzero(stamps >= 0)
                if good.size:
                    at = int(good[-1] if last else good[0])
                    probe[start + at] = int(stamps[at])
        seqs = [probe[slot] for slot in sorted(probe, key=lambda slot: (slot < cut, slot))]
        if any(b <= a for a, b in itertools.pairwise(seqs)):
            self.summary.notes.append(
                "ring order disagrees with its header (dumped while recording, or a corrupted header): "
                "sorted the slots by sequence number"
            )
            return None
        return cut

    def _sorted(self, rows: np.ndarray) -> tuple[np.ndarray, int, int, int]:
        from tracefmt.capture._kernels import valid_stamps

        self.summary.sorted_by_seq = True
        step = 1 << 20
        parts = [valid_stamps(_readonly(rows[i : i + step]), N_KINDS) for i in range(0, len(rows), step)]
        stamps = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        bad = np.flatnonzero(stamps < 0)  # empty, torn or unknown kind: counted here, never decoded
        empty = int(np.count_nonzero((rows[bad, 0] == 0) & (rows[bad, L.COMMIT_WORD] == 0))) if bad.size else 0
        idx = np.flatnonzero(stamps >= 0)
        idx = idx[np.argsort(stamps[idx], kind="stable")]
        dup = np.flatnonzero(np.diff(stamps[idx]) == 0) + 1
        if dup.size:
            self.summary.notes.append(f"{dup.size} slots repeat another slot's sequence number: ignored")
            idx = np.delete(idx, dup)
        return _readonly(np.ascontiguousarray(rows[idx])), 0, empty, bad.size - empty


def _readonly(a: np.ndarray) -> np.ndarray:
    """One kernel signature for mapped and copied rows alike: read-only, C-contiguous, plain ndarray."""
    a = np.asarray(a)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


def find_rings(paths: list[Path]) -> tuple[list[RingSource], list[str]]:
    """Every ring in the given files and directories (directories: every file in them starting with a ring),
    and warnings about bytes that were ignored."""
    files: list[tuple[Path, bool]] = []
    for p in paths:
        if p.is_dir():
            files.extend((f, False) for f in sorted(p.iterdir()) if f.is_file())
        elif p.exists():
            files.append((p, True))
        else:
            raise NotATraceError(f"{p}: no such file or directory")
    sources: list[RingSource] = []
    warnings: list[str] = []
    for f, named in files:
        sources.extend(_rings_in_file(f, named, warnings))
    if not sources:
        raise NotATraceError(f"{', '.join(str(p) for p in paths)}: no recorder ring found")
    return sources, warnings


def _rings_in_file(path: Path, named: bool, warnings: list[str]) -> list[RingSource]:
    """The rings one after another in ``path``; a file that does not start with one is skipped unless named.

    After the first ring, whatever does not start a complete ring header (zero padding, a header cut off by
    a short dump, other data) ends the file with a warning instead of an error: the rings before it stand.
    """
    size = os.path.getsize(path)
    found: list[RingSource] = []
    offset = 0
    magic = L.RING_MAGIC.to_bytes(4, "little")
    with open(path, "rb") as f:
        while offset < size:
            f.seek(offset)
            head = f.read(L.HEADER_SIZE)
            if offset == 0 and not named and head[:4] != magic:
                return []
            if offset and (len(head) < L.HEADER_SIZE or head[:4] != magic):
                if any(head) or len(head) < L.HEADER_SIZE:
                    warnings.append(f"{path}: byte {offset}: {size - offset} trailing bytes are not a ring: ignored")
                break
            found.append(RingSource(path, L.parse_header(head, offset, str(path)), size))
            offset += found[-1].h.total_bytes
    return found
