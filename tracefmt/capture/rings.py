"""``novatrace import rings``: per-CPU recorder ring dumps -> one trace in (ts, cpu, seq) order.

Each CPU's ring decodes into sequence-ordered runs (``ringread``); runs of all CPUs are merged in bounded
memory: at every step only the records older than the newest timestamp every unfinished CPU has already
delivered are emitted, so memory stays at a few chunks per CPU however long the rings are.

Loss accounting per CPU (FORMAT.md section 8): records the recorder dropped are covered by the
RECORDER_LOSS records it wrote itself; numbers used after the last record in the ring (drops at the end,
a record torn by the crash) get one RECORDER_LOSS appended by the importer, numbered ``next_seq`` as the
recorder would have; records numbered before the ring's oldest record were overwritten (or taken by a
consumer) and are reported, not recorded as events. A gap no RECORDER_LOSS explains (a corrupted slot in
the middle) stays an unrecorded gap, which ``validate`` reports as such.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tracefmt.capture.ringread import CHUNK_ROWS, RingSource, RingSummary, Run, find_rings
from tracefmt.decode import fill_hc
from tracefmt.errors import TraceError
from tracefmt.io import TraceWriter
from tracefmt.meta import TraceMeta
from tracefmt.platform import Platform
from tracefmt.schema import COLUMNS, EventBatch, concat


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


def merge_runs(streams: list[Iterator[Run]], cpus: list[int], api: str) -> Iterator[EventBatch]:
    """K-way merge of per-CPU sequence-ordered runs into (ts, cpu, seq) order, a bounded step at a time."""
    order = np.argsort(cpus, kind="stable")  # concatenating in CPU order makes a stable ts sort (ts, cpu, seq)
    streams = [streams[i] for i in order]
    cpus = [cpus[i] for i in order]
    bufs: list[Run | None] = [None] * len(streams)
    done = [False] * len(streams)

    def refill(i: int) -> None:
        nxt = next(streams[i], None)
        if nxt is None:
            done[i] = True
        else:
            bufs[i] = nxt if bufs[i] is None else Run(*(np.concatenate(p) for p in zip(bufs[i], nxt, strict=True)))

    for i in range(len(streams)):
        refill(i)
    while True:
        live = [i for i in range(len(streams)) if not done[i]]
        horizon = min((int(bufs[i].ts[-1]) for i in live if bufs[i] is not None), default=None)
        parts: list[tuple[int, Run]] = []
        for i, b in enumerate(bufs):
            if b is None or len(b.ts) == 0:
                continue
            cut = len(b.ts) if horizon is None else int(np.searchsorted(b.ts, horizon, side="left"))
            if cut:
                parts.append((cpus[i], Run(*(col[:cut] for col in b))))
                bufs[i] = Run(*(col[cut:] for col in b))
        if parts:
            yield _merge_parts(parts, api)
        if horizon is None:
            return
        for i in live:
            if bufs[i] is None or len(bufs[i].ts) == 0 or int(bufs[i].ts[-1]) == horizon:
                refill(i)


def _merge_parts(parts: list[tuple[int, Run]], api: str) -> EventBatch:
    runs = [r for _, r in parts]
    cpu = np.concatenate([np.full(len(r.ts), c, np.int16) for c, r in parts])
    cols = {name: np.concatenate([getattr(r, name) for r in runs]) for name in Run._fields}
    if len(parts) > 1:
        idx = np.argsort(cols["ts"], kind="stable")
        cols = {name: col[idx] for name, col in cols.items()}
        cpu = cpu[idx]
    cols["cpu"] = cpu
    cols["hc"] = fill_hc(cols["kind"], cols["a0"], cols["a4"], api)
    return EventBatch(*(cols[name] for name in COLUMNS))


class RingDecoder:
    """A set of ring dumps, checked and ready to decode; ``result`` is complete after :meth:`scan` or once an
    :meth:`events` iterator has been exhausted. Both may run several times (each re-reads the rings)."""

    def __init__(
        self, paths: list[Path], platform: Platform, *, salvage: bool = False, chunk_rows: int = CHUNK_ROWS
    ) -> None:
        self.paths = paths
        self.salvage = salvage
        self.chunk_rows = chunk_rows
        self.sources = sorted(find_rings(paths), key=lambda src: src.h.cpu)
        platform, warnings = check_rings(self.sources, platform)
        self.result = RingsImport(platform=platform, rings=[s.summary for s in self.sources], warnings=warnings)

    def scan(self) -> RingsImport:
        """Decode every ring without merging or keeping anything: fills the loss summary."""
        for src in self.sources:
            for _ in src.runs(self.chunk_rows, self.salvage):
                pass
        return self.result

    def events(self) -> Iterator[EventBatch]:
        """All events in (ts, cpu, seq) order, in batches of bounded size."""
        self.result.events = 0
        streams = [src.runs(self.chunk_rows, self.salvage) for src in self.sources]
        for batch in merge_runs(streams, [src.h.cpu for src in self.sources], self.result.platform.api):
            self.result.events += batch.n
            yield batch

    def read_all(self) -> EventBatch:
        return concat(list(self.events()))


def import_rings(
    paths: list[Path],
    platform: Platform,
    out: Path,
    *,
    salvage: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
) -> RingsImport:
    """Decode ring dumps into the trace file ``out`` (Parquet or Arrow IPC stream by its suffix).

    Two passes over the rings: a decode-only scan first (cheap next to writing Parquet) so that the loss
    summary is complete before it goes into the file's provenance, then decode, merge and write.
    """
    dec = RingDecoder(paths, platform, salvage=salvage, chunk_rows=chunk_rows)
    result = dec.scan()
    meta = TraceMeta(platform=result.platform, provenance=_provenance(paths, result))
    tmp = out.with_name(out.name + ".partial")
    try:
        with TraceWriter(tmp, meta) as w:
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
