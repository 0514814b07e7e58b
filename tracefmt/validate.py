"""One streaming pass over a trace: the format's rules, per-CPU loss accounting, and summary counts.

Errors break the format (unsorted rows, unknown kinds, CPUs or enum values out of range, ``hc`` not matching
the raw registers). Loss is not an error: a gap in a CPU's sequence numbers is reported as loss, "recorded"
when a RECORDER_LOSS event accounts for it, "unrecorded" otherwise. ``info`` and ``validate`` share this
pass so that a trace is read once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from tracefmt.decode import fill_hc
from tracefmt.errors import TraceValidationError
from tracefmt.events import KIND_ARGS, KIND_NAMES, N_KINDS, WORD_ENUMS, Kind
from tracefmt.platform import Platform
from tracefmt.schema import EventBatch

MAX_ERRORS = 20
_CPU_WORDS = {"target_cpu"}  # argument words that must name an existing CPU
_CPU_WORDS_OR_UNKNOWN = {"source_cpu"}
_ENUM_MAX = {name: max(enum) for name, enum in WORD_ENUMS.items()}
assert all(sorted(enum) == list(range(len(enum))) for enum in WORD_ENUMS.values()), "enums must be 0..n-1"


@dataclass
class Loss:
    """Records missing on one CPU: sequence numbers ``first_seq .. first_seq+count-1``."""

    cpu: int
    first_seq: int
    count: int
    ts_from: int  # timestamp of the last record before the gap (-1 if none)
    ts_to: int  # timestamp of the first record after it
    recorded: bool  # a RECORDER_LOSS event accounts for it


@dataclass
class Report:
    where: str
    rows: int = 0
    ts_min: int | None = None
    ts_max: int | None = None
    per_kind: np.ndarray = field(default_factory=lambda: np.zeros(N_KINDS, np.int64))
    per_cpu: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    losses: list[Loss] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    first_seq: dict[int, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def lost_records(self) -> int:
        return sum(loss.count for loss in self.losses)

    def error(self, row: int, msg: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"{self.where}: row {row}: {msg}")

    def raise_first(self) -> None:
        if self.errors:
            more = f" (and {self.error_count - 1} more)" if self.error_count > 1 else ""
            raise TraceValidationError(self.errors[0] + more)


class _Checker:
    def __init__(self, platform: Platform, where: str) -> None:
        self.platform = platform
        self.r = Report(where=where, per_cpu=np.zeros(platform.cpus, np.int64))
        self.last_seq = np.full(platform.cpus, np.iinfo(np.int64).min, np.int64)
        self.last_ts = np.full(platform.cpus, -1, np.int64)
        self.prev: tuple[int, int, int] | None = None
        self.base = 0

    def feed(self, b: EventBatch) -> None:
        n = b.n
        if n == 0:
            return
        r, base = self.r, self.base
        r.rows += n
        r.ts_min = int(b.ts[0]) if r.ts_min is None else min(r.ts_min, int(b.ts.min()))
        r.ts_max = int(b.ts.max()) if r.ts_max is None else max(r.ts_max, int(b.ts.max()))

        bad_kind = b.kind >= N_KINDS
        if bad_kind.any():
            for i in np.flatnonzero(bad_kind)[:MAX_ERRORS]:
                r.error(base + int(i), f"unknown event kind {int(b.kind[i])} (known: 0..{N_KINDS - 1})")
            r.error_count += max(0, int(bad_kind.sum()) - MAX_ERRORS)
        r.per_kind += np.bincount(b.kind[~bad_kind], minlength=N_KINDS)[:N_KINDS]

        bad_cpu = (b.cpu < 0) | (b.cpu >= self.platform.cpus)
        if bad_cpu.any():
            for i in np.flatnonzero(bad_cpu)[:MAX_ERRORS]:
                r.error(base + int(i), f"CPU {int(b.cpu[i])} out of range (platform has {self.platform.cpus})")
            r.error_count += max(0, int(bad_cpu.sum()) - MAX_ERRORS)
        good = ~(bad_kind | bad_cpu)
        r.per_cpu += np.bincount(b.cpu[good].astype(np.int64), minlength=self.platform.cpus)[: self.platform.cpus]

        self._check_order(b)
        self._check_hc(b)
        self._check_words(b, good)
        self._check_seq(b, good)
        self.base += n

    def _check_order(self, b: EventBatch) -> None:
        ts, cpu, seq = b.ts, b.cpu.astype(np.int64), b.seq
        if self.prev is not None:
            pts = np.concatenate(([self.prev[0]], ts[:-1]))
            pcpu = np.concatenate(([self.prev[1]], cpu[:-1]))
            pseq = np.concatenate(([self.prev[2]], seq[:-1]))
            offset = 0
        else:
            pts, pcpu, pseq, offset = ts[:-1], cpu[:-1], seq[:-1], 1
            ts, cpu, seq = ts[1:], cpu[1:], seq[1:]
        ordered = (ts > pts) | ((ts == pts) & ((cpu > pcpu) | ((cpu == pcpu) & (seq > pseq))))
        if not ordered.all():
            for i in np.flatnonzero(~ordered)[:MAX_ERRORS]:
                self.r.error(
                    self.base + offset + int(i),
                    f"rows not sorted by (ts, cpu, seq): ({int(ts[i])}, {int(cpu[i])}, {int(seq[i])}) follows "
                    f"({int(pts[i])}, {int(pcpu[i])}, {int(pseq[i])})",
                )
            self.r.error_count += max(0, int((~ordered).sum()) - MAX_ERRORS)
        self.prev = (int(b.ts[-1]), int(b.cpu[-1]), int(b.seq[-1]))

    def _check_hc(self, b: EventBatch) -> None:
        expected = fill_hc(b.kind, b.a0, b.a4, self.platform.api)
        bad = expected != b.hc
        if bad.any():
            for i in np.flatnonzero(bad)[:MAX_ERRORS]:
                kind = KIND_NAMES.get(int(b.kind[i]), str(int(b.kind[i])))
                self.r.error(
                    self.base + int(i),
                    f"{kind}: hc {int(b.hc[i])} does not match the raw hypercall number under "
                    f"{self.platform.api} (expected {int(expected[i])})",
                )
            self.r.error_count += max(0, int(bad.sum()) - MAX_ERRORS)

    def _check_words(self, b: EventBatch, good: np.ndarray) -> None:
        args = (b.a0, b.a1, b.a2, b.a3, b.a4)
        order = np.argsort(b.kind, kind="stable")  # radix sort on uint8: one pass, then a slice per kind
        bounds = np.searchsorted(b.kind[order], np.arange(N_KINDS + 1))
        for kind, spec in KIND_ARGS.items():
            rows = order[bounds[kind] : bounds[kind + 1]]
            if rows.size == 0:
                continue
            rows = rows[good[rows]]
            for w, name in enumerate(spec.args):
                if name in WORD_ENUMS:
                    low, high = 0, _ENUM_MAX[name]
                    what = f"{name} {{}} is not a {WORD_ENUMS[name].__name__}"
                elif name in _CPU_WORDS or name in _CPU_WORDS_OR_UNKNOWN:
                    low, high = (-1 if name in _CPU_WORDS_OR_UNKNOWN else 0), self.platform.cpus - 1
                    what = f"{name} {{}} out of range (platform has {self.platform.cpus} CPUs)"
                else:
                    continue
                vals = args[w][rows]
                bad = rows[(vals < low) | (vals > high)]
                for i in np.sort(bad)[:MAX_ERRORS]:
                    self.r.error(self.base + int(i), f"{kind.name}: " + what.format(int(args[w][i])))
                self.r.error_count += max(0, bad.size - MAX_ERRORS)

    def _check_seq(self, b: EventBatch, good: np.ndarray) -> None:
        idx = np.flatnonzero(good)
        if idx.size == 0:
            return
        order = idx[np.argsort(b.cpu[idx], kind="stable")]  # int16: radix sort
        cpus = b.cpu[order].astype(np.int64)
        seq = b.seq[order]
        ts = b.ts[order]
        starts = np.flatnonzero(np.diff(cpus, prepend=-1))
        prev_seq = np.empty_like(seq)
        prev_ts = np.empty_like(ts)
        prev_seq[1:], prev_ts[1:] = seq[:-1], ts[:-1]
        prev_seq[starts] = self.last_seq[cpus[starts]]
        prev_ts[starts] = self.last_ts[cpus[starts]]
        first_seen = prev_seq == np.iinfo(np.int64).min
        step = seq - prev_seq
        for c, s in zip(cpus[first_seen], seq[first_seen], strict=True):
            self.r.first_seq.setdefault(int(c), int(s))
        back = ~first_seen & (step <= 0)
        for j in np.flatnonzero(back)[:MAX_ERRORS]:
            self.r.error(
                self.base + int(order[j]),
                f"CPU {int(cpus[j])}: sequence number {int(seq[j])} does not follow {int(prev_seq[j])}",
            )
        self.r.error_count += max(0, int(back.sum()) - MAX_ERRORS)
        gaps = np.flatnonzero(~first_seen & (step > 1))
        kinds, a0, a3 = b.kind[order], b.a0[order], b.a3[order]
        for j in gaps:
            first, count = int(prev_seq[j]) + 1, int(step[j]) - 1
            recorded = bool(kinds[j] == int(Kind.RECORDER_LOSS) and a3[j] == first and a0[j] == count)
            self.r.losses.append(Loss(int(cpus[j]), first, count, int(prev_ts[j]), int(ts[j]), recorded))
        ends = np.append(starts[1:], len(cpus)) - 1
        self.last_seq[cpus[ends]] = seq[ends]
        self.last_ts[cpus[ends]] = ts[ends]


def check(batches: Iterable[EventBatch], platform: Platform, where: str) -> Report:
    """Run every check over ``batches`` (in file order) and return the report."""
    checker = _Checker(platform, where)
    for b in batches:
        checker.feed(b)
    return checker.r


def hc_matches(b: EventBatch, api: str) -> bool:
    """True if ``b.hc`` agrees with the raw registers under ``api``."""
    return bool(np.array_equal(fill_hc(b.kind, b.a0, b.a4, api), b.hc))
