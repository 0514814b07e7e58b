"""Build small traces by hand, event by event, with argument words named as in FORMAT.md.

For tests, golden traces and the tiny sample: every word is given by name (``sm=..., woken=...``), the
hypercall word p0 is assembled from (hypercall, selector, flags) under the platform's API generation,
per-CPU sequence numbers are assigned, and the clock advances by ``tick`` per event unless told otherwise.

    b = TraceBuilder(example_x86())
    b.hc_entry(0, ec=ROOT_EC, hc=Hc.CTRL_SM, sel=0x40, flags=FlagCtrlSm.D)
    b.event(0, Kind.SM_BLOCK, ec=ROOT_EC, sm=SM, deadline=0, sc=ROOT_SC)
    b.write("t.parquet")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tracefmt.decode import fill_hc
from tracefmt.events import KIND_ARGS, Kind
from tracefmt.io import write_trace
from tracefmt.meta import TraceMeta
from tracefmt.nova import P0_FLAGS_SHIFT, P0_SEL_SHIFT, Hc, hc_number
from tracefmt.platform import Platform
from tracefmt.schema import COLUMNS, EventBatch


def to_i64(v: int) -> int:
    """Bit-cast an unsigned 64-bit value (e.g. a kernel address) to the int64 the format stores."""
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


def hypercall_word(api: str, hc: Hc, sel: int = 0, flags: int = 0) -> int:
    """p0 = sel << 8 | flags << 4 | number, for generation ``api`` (as int64)."""
    return to_i64((sel << P0_SEL_SHIFT) | ((int(flags) & 0xF) << P0_FLAGS_SHIFT) | hc_number(api, hc))


class TraceBuilder:
    def __init__(self, platform: Platform, start_ts: int = 1_000_000, tick: int = 100, first_seq: int = 0) -> None:
        self.platform = platform
        self.ts = start_ts
        self.tick = tick
        self.seq = [first_seq] * platform.cpus
        self.rows: list[tuple[int, ...]] = []

    # --- clock and raw rows -------------------------------------------------------------------------------------

    def at(self, ts: int) -> TraceBuilder:
        """Move the clock forward: the next event gets ``ts`` (rows stay in the order they are added)."""
        if ts < self.ts:
            raise ValueError(f"clock would go backwards: {ts} < {self.ts}")
        self.ts = ts
        return self

    def skip_seq(self, cpu: int, n: int) -> None:
        """Pretend ``n`` records of ``cpu`` were dropped (a sequence gap)."""
        self.seq[cpu] += n

    def raw(
        self,
        cpu: int,
        kind: Kind,
        ec: int = 0,
        words: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0),
        ts: int | None = None,
        seq: int | None = None,
    ) -> int:
        """Append one row; returns its index."""
        if ts is not None:
            self.ts = ts
        if seq is None:
            seq = self.seq[cpu]
            self.seq[cpu] += 1
        self.rows.append((self.ts, cpu, seq, int(kind), to_i64(ec), *(to_i64(int(w)) for w in words)))
        self.ts += self.tick
        return len(self.rows) - 1

    def event(self, cpu: int, kind: Kind, ec: int = 0, ts: int | None = None, **words: int) -> int:
        """Append an event with its words named as in FORMAT.md (unnamed words are 0)."""
        spec = KIND_ARGS[kind]
        unknown = set(words) - set(spec.args) - {""}
        if unknown:
            raise TypeError(f"{kind.name} has no word(s) {', '.join(sorted(unknown))}; words: {spec.args}")
        vals = tuple(int(words.get(name, 0)) if name else 0 for name in spec.args)
        return self.raw(cpu, kind, ec, vals, ts)  # type: ignore[arg-type]

    # --- hypercalls ---------------------------------------------------------------------------------------------

    def hc_entry(
        self,
        cpu: int,
        ec: int,
        hc: Hc,
        sel: int = 0,
        flags: int = 0,
        p1: int = 0,
        p2: int = 0,
        p3: int = 0,
        p4: int = 0,
        ts: int | None = None,
    ) -> int:
        p0 = hypercall_word(self.platform.api, hc, sel, flags)
        return self.raw(cpu, Kind.HC_ENTRY, ec, (p0, p1, p2, p3, p4), ts)

    def hc_exit(
        self,
        cpu: int,
        ec: int,
        hc: Hc,
        ret_p0: int,
        out_p1: int = 0,
        out_p2: int = 0,
        created: int = 0,
        ts: int | None = None,
    ) -> int:
        number = hc_number(self.platform.api, hc)
        return self.raw(cpu, Kind.HC_EXIT, ec, (ret_p0, out_p1, out_p2, created, number), ts)

    # --- output -------------------------------------------------------------------------------------------------

    def columns(self) -> dict[str, np.ndarray]:
        names = ("ts", "cpu", "seq", "kind", "ec", "a0", "a1", "a2", "a3", "a4")
        arr = np.array(self.rows, dtype=np.int64).reshape(-1, len(names))
        order = np.lexsort((arr[:, 2], arr[:, 1], arr[:, 0]))
        arr = arr[order]
        cols = {name: arr[:, i].astype(COLUMNS[name]) for i, name in enumerate(names)}
        cols["hc"] = fill_hc(cols["kind"], cols["a0"], cols["a4"], self.platform.api)
        return {name: cols[name] for name in COLUMNS}

    def batch(self) -> EventBatch:
        c = self.columns()
        return EventBatch(*(c[name] for name in COLUMNS))

    def meta(self, provenance: dict[str, Any] | None = None, strings: tuple[str, ...] = ()) -> TraceMeta:
        return TraceMeta(
            platform=self.platform,
            provenance=provenance or {"capture": {"source": "hand-built", "tool": "tracefmt.builder"}},
            strings=strings,
        )

    def write(
        self, path: str | os.PathLike[str], provenance: dict[str, Any] | None = None, strings: tuple[str, ...] = ()
    ) -> Path:
        return write_trace(path, self.meta(provenance, strings), self.columns())
