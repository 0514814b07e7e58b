"""Drive a synthesis: control plane, then kernel batches merged into time order and streamed to disk.

The kernel writes each CPU's events in order but CPUs interleave out of order; every future event is at or
after the earliest time any CPU becomes idle (the *watermark*), so each batch is sorted and everything
before the watermark is written, the rest carried into the next batch. Memory stays bounded by the batch
size. Ground-truth labels name their event by (cpu, seq); they are located as the rows are written.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from synth import kernel as K
from synth.config import SynthConfig
from synth.faults import label_table, labels_path, write_labels
from synth.merge import take_rows
from synth.plan import EMPTY_SEL, MODE_2026, MODE_ARM_2024, MODE_X86_2024, ROOT_SEL_ROOT_SC, build_plan
from synth.platform import ARM_ITS, X86_IOMMU
from tracefmt.io import IPC_STREAM, PARQUET, STREAM_BATCH_ROWS, TraceWriter
from tracefmt.meta import TraceMeta
from tracefmt.nova import API_2024, ROOT_SEL_ROOT_PD, X86_NUM_GSI, Hc, hc_number, hc_table
from tracefmt.schema import COLUMNS, EventBatch, concat

LABEL_BUFFER = 4096


def params(cfg: SynthConfig, plan: Any) -> tuple[np.ndarray, np.ndarray]:
    p = plan.builder.platform
    api = p.api
    x86 = p.arch == "x86_64"
    mode = MODE_2026 if api != API_2024 else (MODE_X86_2024 if x86 else MODE_ARM_2024)
    us = p.stc_hz // 1_000_000
    P = np.zeros(K.N_PARAMS, dtype=np.int64)
    P[K.P_MODE] = mode
    P[K.P_NCPU] = p.cpus
    for idx, hc in (
        (K.P_N_CTRL_SM, Hc.CTRL_SM),
        (K.P_N_IPC_CALL, Hc.IPC_CALL),
        (K.P_N_IPC_REPLY, Hc.IPC_REPLY),
        (K.P_N_CTRL_PD, Hc.CTRL_PD),
        (K.P_N_CTRL_SC, Hc.CTRL_SC),
        (K.P_N_ASSIGN_INT, Hc.ASSIGN_INT),
        (K.P_N_CREATE_SC, Hc.CREATE_SC),
    ):
        P[idx] = hc_number(api, hc)
    P[K.P_GAP] = max(2, us // 10)  # ~100 ns between records of one kernel path
    P[K.P_WORK] = max(4, 5 * us)  # ~5 us of driver / server work
    P[K.P_IDLE] = max(4, 20 * us // max(1, int(cfg.w_irq / 10)))
    P[K.P_PERIOD] = max(8, round(600 * us / max(cfg.w_ipc, 0.01)))  # client sleep (w_ipc 3: ~200 us)
    P[K.P_ROOT_PERIOD] = max(8, round(50 * us / max(cfg.w_root, 1e-6)))  # root bookkeeping (w_root 0.05: 1 ms)
    P[K.P_X86] = int(x86)
    P[K.P_UNIT] = X86_IOMMU if x86 else ARM_ITS
    P[K.P_LOSS_AT] = cfg.events // 3
    P[K.P_MIN_LOSSES] = cfg.min_recorder_losses
    P[K.P_TARGET] = cfg.events
    P[K.P_ROOT_SC_SEL] = ROOT_SEL_ROOT_SC
    P[K.P_EMPTY_SEL] = EMPTY_SEL
    P[K.P_ROOT_PD_SEL] = ROOT_SEL_ROOT_PD
    P[K.P_VECS] = X86_NUM_GSI
    R = np.zeros(K.N_RATES, dtype=np.float64)
    total = cfg.w_irq + cfg.w_ipc + cfg.w_preempt + cfg.w_storm + cfg.w_rke
    R[K.R_PREEMPT] = cfg.w_preempt / total
    R[K.R_STORM] = cfg.w_storm / total
    R[K.R_RKE] = cfg.w_rke / total
    R[K.R_LOST] = cfg.lost_irq
    R[K.R_MISROUTE] = cfg.misroute
    R[K.R_LATENCY] = cfg.latency
    R[K.R_LOSS] = cfg.recorder_loss
    R[K.R_DIVERGENCE] = cfg.divergence
    R[K.R_EXPECT] = 0.05
    return P, R


class _Labels:
    """Labels found by the kernel, waiting for their event's row number."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, ...]] = []  # code, cpu, seq, kind, subject, p0, p1
        self.found: list[tuple[int, ...]] = []  # code, ts, cpu, seq, event, kind, subject, p0, p1

    def take(self, L: np.ndarray, n: int) -> None:
        cols = (K.L_CODE, K.L_CPU, K.L_SEQ, K.L_KIND, K.L_SUBJECT, K.L_P0, K.L_P1)
        self.pending.extend(tuple(int(v) for v in row) for row in L[:n][:, cols])

    def locate(self, part: EventBatch, base: int) -> None:
        if not self.pending or part.n == 0:
            return
        seqs = np.array([p[2] for p in self.pending], dtype=np.int64)
        hits = np.nonzero(np.isin(part.seq, seqs))[0]
        index = {(int(part.cpu[i]), int(part.seq[i])): int(i) for i in hits}
        rest = []
        for p in self.pending:
            i = index.get((p[1], p[2]))
            if i is None:
                rest.append(p)
                continue
            code, cpu, seq, _kind, subject, p0, p1 = p
            self.found.append((code, int(part.ts[i]), cpu, seq, base + i, int(part.kind[i]), subject, p0, p1))
        self.pending = rest

    def table(self):
        rows = sorted(self.found, key=lambda r: r[4])
        names = ("code", "ts", "cpu", "seq", "event", "kind", "subject", "p0", "p1")
        cols = {n: np.array([r[j] for r in rows], dtype=np.int64) for j, n in enumerate(names)}
        return label_table(cols)


def arrays(plan: Any) -> tuple[np.ndarray, ...]:
    """The plan's tables as the kernel's int64 arrays (CH, CP, AUX, RT, SP), writable copies."""
    CH = np.ascontiguousarray(np.stack(plan.chan, axis=1), dtype=np.int64)
    c = plan.cpus
    CP = np.ascontiguousarray(np.stack(c[: K.N_CP], axis=1), dtype=np.int64)
    AUX = np.concatenate([c.ch_start, c.by_cpu, c.vec_used]).astype(np.int64)
    SP = np.zeros((len(plan.spare_irqs), 2), dtype=np.int64)
    SP[:, 0] = plan.spare_irqs
    SP[:, 1] = [plan.ids.int_sm.get(int(i), 0) for i in plan.spare_irqs]
    return CH, CP, AUX, plan.root.copy(), SP


def _take(raw: np.ndarray, order: np.ndarray, table: np.ndarray) -> EventBatch:
    """Columns ``order`` of the kernel output (10 x capacity) as an EventBatch of new arrays (the writer keeps them)."""
    n = len(order)
    cols = {name: np.empty(n, dtype=dt) for name, dt in COLUMNS.items()}
    take_rows(raw, np.ascontiguousarray(order, dtype=np.int64), table, *(cols[name] for name in _TAKE_ORDER))
    return EventBatch(*(cols[name] for name in COLUMNS))


_TAKE_ORDER = ("ts", "cpu", "seq", "kind", "hc", "ec", "a0", "a1", "a2", "a3", "a4")


def synthesize(
    cfg: SynthConfig,
    out: Path,
    fmt: str = "parquet",
    advance: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write the trace (``out``: file, or directory for rings) and its labels; returns a summary."""
    t0 = time.perf_counter()
    plan = build_plan(cfg)
    platform = plan.builder.platform
    api = platform.api
    cp_cols = plan.builder.columns()
    cp = EventBatch(*(cp_cols[name] for name in COLUMNS))
    end_ts = int(cp.ts[-1]) + 1
    P, R = params(cfg, plan)
    P[K.P_TARGET] = max(cfg.events, cp.n + 1)
    G, S, rng = K.new_state(platform.cpus, cfg.seed, end_ts, np.array(plan.builder.seq), len(plan.spare_irqs))
    S[K.C_TOTAL] = cp.n
    CH, CP, AUX, RT, SP = arrays(plan)
    P[K.P_AUX_VEC] = platform.cpus + 1 + len(CH)
    batch = min(cfg.batch_rows, cfg.events + 16)
    OUT = np.zeros((len(K.OUT_COLUMNS), 2 * batch + K.MARGIN), dtype=np.int64)  # carried rows + a new batch
    table = hc_table(api)
    L = np.zeros((LABEL_BUFFER, K.N_L), dtype=np.int64)
    labels = _Labels()
    meta = TraceMeta(
        platform=platform,
        provenance={"capture": {"source": "synth", "config": cfg.to_dict(), "notes": _notes(cfg, plan)}},
        strings=plan.strings,
    )
    container = IPC_STREAM if fmt in ("ipc", "rings") else PARQUET
    tmp = out.with_name(out.name + ".partial")
    target = tmp if fmt != "rings" else out.with_name(out.name + ".partial.arrows")
    rows = 0
    ring_parts: list[EventBatch] = []
    try:
        with TraceWriter(target, meta, container=container) as w:
            bg = _Background(w.write)

            def emit(part: EventBatch) -> None:
                nonlocal rows
                labels.locate(part, rows)
                bg.put(part)
                if fmt == "rings":
                    ring_parts.append(part)
                rows += part.n
                if advance is not None:
                    advance(part.n)

            emit(cp)
            m = 0  # rows carried over (at or after the watermark) at the start of OUT
            while True:
                if OUT.shape[1] - K.MARGIN - m < batch:  # a very uneven batch: make room
                    OUT = np.concatenate([OUT, np.zeros((OUT.shape[0], m), dtype=np.int64)], axis=1)
                S[K.C_ROWS] = m
                P[K.P_CAP] = m + batch
                K.generate(OUT, G, S, rng, L, P, R, CH, CP, AUX, RT, SP)
                n = int(S[K.C_ROWS])
                labels.take(L, int(S[K.C_LABELS]))
                S[K.C_LABELS] = 0
                done = S[K.C_TOTAL] >= P[K.P_TARGET]
                raw = OUT[:, :n]
                order = np.argsort(raw[0] << 8 | raw[1], kind="stable")  # (ts, cpu); seq follows per CPU
                cut = n if done else int(np.count_nonzero(raw[0] < G[:, K.G_FREE].min()))
                emit(_take(OUT, order[:cut], table))
                rest = order[cut:]
                m = len(rest)
                OUT[:, :m] = raw[:, rest]
                if done:
                    break
            bg.close()
        trunc_rows = None
        if cfg.truncate and container == IPC_STREAM:
            trunc_rows = _truncate(target, rows)
        if fmt == "rings":
            from tracefmt.capture.ringwrite import write_rings

            out.mkdir(parents=True, exist_ok=True)
            write_rings(concat(ring_parts), platform, out, ring_records=max(4096, rows))
            (out / "platform.json").write_text(platform.to_json())  # for ``novatrace import rings --platform``
            target.unlink()
        else:
            tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    table = labels.table()
    if trunc_rows is not None:
        table = table.filter(np.asarray(table.column("event")) < trunc_rows)
    lpath = labels_path(out)
    write_labels(lpath, table)
    seconds = time.perf_counter() - t0
    return {
        "output": str(out),
        "labels": str(lpath),
        "format": fmt,
        "arch": platform.arch,
        "api": api,
        "events": rows if trunc_rows is None else trunc_rows,
        "faults": table.num_rows,
        "fault_kinds": _counts(table),
        "bytes": _size(out),
        "label_bytes": lpath.stat().st_size,
        "seconds": round(seconds, 3),
        "events_per_s": round(rows / seconds) if seconds > 0 else None,
        "truncated_at_row": trunc_rows,
    }


class _Background:
    """Writes batches on a thread (Parquet compression overlaps the next batch); at most one queued."""

    def __init__(self, write: Callable[[EventBatch], None]) -> None:
        self._q: queue.Queue[EventBatch | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._write = write
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (part := self._q.get()) is not None:
            if self._error is None:
                try:
                    self._write(part)
                except BaseException as e:  # re-raised in the caller's thread
                    self._error = e

    def put(self, part: EventBatch) -> None:
        if self._error is not None:
            self.close()
        self._q.put(part)

    def close(self) -> None:
        self._q.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def _counts(table) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in table.column("fault").to_pylist():
        out[f] = out.get(f, 0) + 1
    return dict(sorted(out.items()))


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    return path.stat().st_size


def _truncate(path: Path, rows: int) -> int:
    """Cut the stream in the middle of its last batch (a crashed capture); returns the rows still readable."""
    size = path.stat().st_size
    last = rows % STREAM_BATCH_ROWS or min(rows, STREAM_BATCH_ROWS)
    keep = rows - last
    cut = size - max(16, int(last * 68 * 0.5))
    with open(path, "r+b") as f:
        f.truncate(cut)
        os.fsync(f.fileno())
    return keep


def _notes(cfg: SynthConfig, plan: Any) -> list[str]:
    return [
        f"synthesized: scenario {cfg.scenario}, seed {cfg.seed}, {cfg.cpus} CPUs, {cfg.devices} devices, "
        f"{len(plan.chan.cpu)} interrupt lines with a driver",
        "ground truth (injected faults) is in the .labels.parquet file beside the trace",
    ]
