"""``novatrace import rings``: per-CPU recorder ring dumps -> one trace in (ts, cpu, seq) order.

``ringread`` finds the rings and maps their slots; one numba kernel (``_kernels.merge_rings``) walks every
CPU's slots oldest first, skips empty and torn ones, accounts for loss and merges the CPUs through a heap of
their next records, writing batches of the final columns. Nothing but the output batch and the mapped pages
being read is in memory, however long the rings are.

Loss accounting per CPU (FORMAT.md section 8): records the recorder dropped are covered by the
RECORDER_LOSS records it wrote itself; numbers used after the last record in the ring (drops at the end,
a record torn by the crash) get one RECORDER_LOSS appended by the importer, numbered ``next_seq`` as the
recorder would have; records numbered before the ring's oldest record were overwritten (or taken by a
consumer) and are reported, not recorded as events. A gap no RECORDER_LOSS explains (a corrupted slot in
the middle) stays an unrecorded gap, which ``validate`` reports as such.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tracefmt.capture.ringread import RingSource, RingSummary, find_rings
from tracefmt.errors import CorruptTraceError, TraceError
from tracefmt.events import N_KINDS, Kind
from tracefmt.io import TraceWriter, container_for_name
from tracefmt.meta import TraceMeta
from tracefmt.nova import hc_table as hc_table_for
from tracefmt.platform import Platform
from tracefmt.schema import COLUMNS, EventBatch, concat

# Rows per yielded batch. 64 Ki rows (4.4 MB) stay under glibc's mmap threshold, so a consumer's freed batches
# are recycled; 1 Mi-row batches came back as fresh pages the kernel zeroes, which halved the throughput.
BATCH_ROWS = 1 << 16


@dataclass
class RingsImport:
    """Result of decoding a set of ring dumps."""

    platform: Platform
    rings: list[RingSummary]
    events: int = 0
    warnings: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per CPU and per problem, for provenance and ``info``."""
        out = []
        for s in self.rings:
            out.append(
                f"cpu {s.cpu}: {s.mode} ring of {s.capacity} records, wrapped {s.wrap_count}x, {s.records} records"
                f" (seq {s.first_seq}..{s.last_seq}); {s.before_window} earlier records overwritten or consumed; "
                f"{s.lost_in_window} lost inside the window ({s.loss_lost} dropped by the recorder, "
                f"{s.trailing_lost} at the end, {s.unrecorded_records} in unrecorded gaps); {s.torn} torn slots"
            )
            out.extend(f"cpu {s.cpu}: {n}" for n in s.notes)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "cpus": [dataclasses.asdict(s) | {"lost_in_window": s.lost_in_window} for s in self.rings],
            "lost_in_window": sum(s.lost_in_window for s in self.rings),
            "before_window": sum(s.before_window for s in self.rings),
            "warnings": self.warnings,
        }


def check_rings(sources: list[RingSource], platform: Platform) -> tuple[Platform, list[str]]:
    """Rings must agree with each other and with the platform; the ring's STC frequency wins over the platform's."""
    warnings = []
    seen: dict[int, RingSource] = {}
    for src in sources:
        h = src.h
        if h.cpu >= platform.cpus:
            raise TraceError(f"{h.where}: ring of CPU {h.cpu}, but the platform has {platform.cpus} CPUs")
        if h.cpu in seen:
            raise TraceError(f"{h.where}: a second ring for CPU {h.cpu} (the first is at {seen[h.cpu].h.where})")
        seen[h.cpu] = src
    freqs = {src.h.stc_hz for src in sources}
    if len(freqs) > 1:
        raise TraceError(f"rings disagree on the STC frequency: {', '.join(f'{f} Hz' for f in sorted(freqs))}")
    hz = freqs.pop()
    if hz != platform.stc_hz:
        warnings.append(f"platform says stc_hz {platform.stc_hz}, the rings {hz}: using the rings' {hz} Hz")
        platform = dataclasses.replace(platform, stc_hz=hz).validated()
    missing = sorted(set(range(platform.cpus)) - set(seen))
    if missing:
        warnings.append(f"no ring for CPU {', '.join(map(str, missing))}: those CPUs have no events")
    return platform, warnings


class RingDecoder:
    """A set of ring dumps, checked and ready to decode.

    :meth:`events` yields the merged trace in batches of ``batch_rows``; :meth:`scan` decodes without keeping
    anything. Either fills ``result`` (the per-CPU loss summary) and may run again (each re-reads the rings).
    """

    def __init__(
        self, paths: list[Path], platform: Platform, *, salvage: bool = False, batch_rows: int = BATCH_ROWS
    ) -> None:
        self.paths = paths
        self.salvage = salvage
        self.batch_rows = batch_rows
        sources, found_warnings = find_rings(paths)
        self.sources = sorted(sources, key=lambda src: src.h.cpu)
        platform, warnings = check_rings(self.sources, platform)
        warnings = found_warnings + warnings
        self.result = RingsImport(platform=platform, rings=[s.summary for s in self.sources], warnings=warnings)

    def scan(self) -> RingsImport:
        """Decode every ring without keeping the events: fills the loss summary."""
        for _ in self._run(emit=False):
            pass
        return self.result

    def events(self) -> Iterator[EventBatch]:
        """All events in (ts, cpu, seq) order."""
        yield from self._run(emit=True)

    def read_all(self) -> EventBatch:
        return concat(list(self.events()))

    def _run(self, emit: bool) -> Iterator[EventBatch | None]:
        from tracefmt.capture import _kernels as K

        k = len(self.sources)
        st = np.zeros((k, K.N_CSTATE), np.int64)
        par = np.zeros((k, K.N_PARAM), np.int64)
        gaps = np.zeros((k, K.GAP_LOG, 4), np.int64)
        rings = []  # keeps the mapped or sorted rows alive while the kernel reads them by address
        for c, src in enumerate(self.sources):
            src.summary.notes = list(src.header_notes)
            src.summary.sorted_by_seq = False
            mapped = src.rows()
            rows, cut, empty, torn = src.order(mapped, self.salvage)
            rings.append(rows)
            st[c, K.C_N], st[c, K.C_CUT], st[c, K.C_EMPTY], st[c, K.C_TORN] = len(rows), cut, empty, torn
            h = src.h
            values = (h.cpu, h.next_seq, h.base_seq, h.lost_pending, h.lost_first_seq, h.lost_first_ts, h.lost_last_ts)
            par[c, : len(values)] = [_i64(v) for v in values]  # header words of a damaged dump may be huge
            par[c, K.P_ROW_BYTES] = rows.shape[1] * 8
        base = np.array([r.ctypes.data for r in rings], np.int64)
        heap = np.zeros(k, np.int64)
        g = np.zeros(4, np.int64)
        hc_table = hc_table_for(self.result.platform.api)
        self.result.events = 0
        pool = _ColumnPool(self.batch_rows, 32 if emit else 1)
        released = np.zeros(k, np.int64)
        while True:
            cols = pool.get()
            status = K.merge_rings(
                base, st, par, gaps, heap, g, hc_table, N_KINDS, int(Kind.RECORDER_LOSS), self.salvage, cols
            )
            n = int(g[2])
            self.result.events += n
            if status not in (K.DONE, K.FULL):
                raise self._error(status, int(g[3]), st)
            if n and emit:
                yield EventBatch(*(col[:n] for col in cols))
            elif n:
                yield None
            self._release(st, released)
            if status == K.DONE:
                break
        for c, src in enumerate(self.sources):
            _finish(src.summary, st[c], gaps[c])

    def _release(self, st: np.ndarray, released: np.ndarray) -> None:
        """Give back the mapped pages of slots every CPU has moved past (keeps resident memory bounded)."""
        from tracefmt.capture import _kernels as K

        for c, src in enumerate(self.sources):
            if src.summary.sorted_by_seq:  # sorted rows are a copy in memory, not a mapping
                continue
            upto = int(st[c, K.C_POS]) - 1  # the head record is still to be copied
            if upto - int(released[c]) >= 1 << 16:
                for lo, hi in slot_ranges(int(released[c]), upto, int(st[c, K.C_N]), int(st[c, K.C_CUT])):
                    src.release(lo, hi)
                released[c] = upto

    def _error(self, status: int, c: int, st: np.ndarray) -> TraceError:
        from tracefmt.capture import _kernels as K

        src = self.sources[c]
        where = f"{src.path}: ring of CPU {src.h.cpu} at byte {src.h.offset}"
        slot = int(st[c, K.C_BAD_AT])
        at = (
            ""
            if src.summary.sorted_by_seq
            else f", slot {slot} (byte {src.h.records_offset + slot * src.h.record_size})"
        )
        if status == K.SEQ_NOT_INCREASING:
            return CorruptTraceError(f"{where}: sequence numbers out of order{at}; --salvage sorts them")
        return CorruptTraceError(
            f"{where}: timestamp goes backwards after seq {int(st[c, K.C_LAST_SEQ])}{at}; --salvage drops such records"
        )


def slot_ranges(first: int, end: int, n: int, cut: int) -> list[tuple[int, int]]:
    """The slot ranges of oldest-first positions ``first .. end-1`` in a ring of ``n`` slots whose oldest
    record is in slot ``cut`` (position p is slot cut+p, wrapping at n)."""
    head = n - cut  # positions 0 .. head-1 are slots cut .. n-1
    out = []
    if first < head:
        out.append((cut + first, cut + min(end, head)))
    if end > head:
        out.append((max(first, head) - head, end - head))
    return out


class _ColumnPool:
    """Output columns for the decoder, reused once no batch handed out still refers to them.

    Freed batches would otherwise go back to the OS (glibc trims the top of its heap) and come back as fresh
    pages the kernel must zero, which cost the decoder a third of its time. An array is free when only the
    pool refers to it (a yielded batch holds views, and a view refers to its base array).
    """

    def __init__(self, rows: int, size: int) -> None:
        self.rows = rows
        self.size = size
        self.sets: list[tuple[np.ndarray, ...]] = []

    def get(self) -> tuple[np.ndarray, ...]:
        for cols in self.sets:
            if all(sys.getrefcount(col) <= _POOL_REFS for col in cols):
                return cols
        cols = tuple(np.empty(self.rows, dt) for dt in COLUMNS.values())
        if len(self.sets) < self.size:
            self.sets.append(cols)
        return cols


_POOL_REFS = 3  # the pool's tuple, the loop variable and getrefcount's own argument


def _i64(v: int) -> int:
    """An unsigned 64-bit header word bit-cast to int64 (the kernel's type)."""
    return ((v + (1 << 63)) % (1 << 64)) - (1 << 63)


def _finish(s: RingSummary, st: np.ndarray, gaps: np.ndarray) -> None:
    from tracefmt.capture import _kernels as K

    s.records = int(st[K.C_VALID])
    s.empty, s.torn, s.bad_kind = int(st[K.C_EMPTY]), int(st[K.C_TORN]), int(st[K.C_BAD_KIND])
    s.ts_dropped = int(st[K.C_TS_DROPPED])
    s.loss_records, s.loss_lost = int(st[K.C_LOSS_RECORDS]), int(st[K.C_LOSS_LOST])
    s.unrecorded_gaps, s.unrecorded_records = int(st[K.C_GAPS]), int(st[K.C_GAP_RECORDS])
    s.trailing_lost = int(st[K.C_TRAIL_LOST])
    s.gaps = [
        {"first_seq": int(g[0]), "count": int(g[1]), "ts_before": int(g[2]), "ts_after": int(g[3])}
        for g in gaps[: min(s.unrecorded_gaps, len(gaps))]
    ]
    if s.records:
        s.first_seq, s.last_seq = int(st[K.C_FIRST_SEQ]), int(st[K.C_LAST_SEQ])
        s.first_ts, s.last_ts = int(st[K.C_FIRST_TS]), int(st[K.C_LAST_TS])
        s.before_window = max(0, s.first_seq - s.base_seq - int(st[K.C_FIRST_LOSS]))
    if s.bad_kind:
        s.notes.append(f"{s.bad_kind} whole records with an unknown kind (>= {N_KINDS}): skipped")
    if s.ts_dropped:
        s.notes.append(f"{s.ts_dropped} records whose timestamp went backwards: dropped (--salvage)")
    if st[K.C_STALE_HEADER]:
        s.notes.append(f"header next_seq {s.next_seq} is not after the last record's {s.last_seq}: stale header?")
    if s.unrecorded_gaps:
        s.notes.append(
            f"{s.unrecorded_records} records missing in {s.unrecorded_gaps} gaps no RECORDER_LOSS explains "
            "(corrupted slots)"
        )


def import_rings(
    paths: list[Path],
    platform: Platform,
    out: Path,
    *,
    salvage: bool = False,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int], None] | None = None,
) -> RingsImport:
    """Decode ring dumps into the trace file ``out`` (Parquet or Arrow IPC stream by its suffix).

    Two passes over the rings: a decode-only scan first (cheap next to writing Parquet) so that the loss
    summary is complete before it goes into the file's provenance, then decode, merge and write.
    """
    dec = RingDecoder(paths, platform, salvage=salvage, batch_rows=batch_rows)
    result = dec.scan()
    meta = TraceMeta(platform=result.platform, provenance=_provenance(paths, result))
    tmp = out.with_name(out.name + ".partial")
    try:
        with TraceWriter(tmp, meta, container=container_for_name(out)) as w:
            for batch in dec.events():
                w.write(batch)
                if progress:
                    progress(batch.n)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return result


def _provenance(paths: list[Path], result: RingsImport) -> dict[str, Any]:
    return {
        "capture": {
            "source": "rings",
            "tool": "novatrace import rings",
            "inputs": [str(p) for p in paths],
            "notes": result.warnings + result.notes(),
            "rings": result.to_dict()["cpus"],
        }
    }
