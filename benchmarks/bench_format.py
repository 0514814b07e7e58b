"""Trace-format costs: bytes per event in memory and on disk, write time, read throughput into numpy.

    python benchmarks/bench_format.py --events 1000000            # generated event mix (see below)
    python benchmarks/bench_format.py --trace sample.parquet      # an existing trace (e.g. from synth)

Prints one JSON object per container. Read throughput iterates every record batch and touches every column
(sum), i.e. what a replay driver pays before its kernel runs. Generated events: a kind mix and id reuse
shaped like a busy NOVA system (hypercalls, interrupts, semaphores, switches) so compression is not
flattered by constant columns nor punished by pure noise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracefmt.decode import fill_hc
from tracefmt.events import Kind
from tracefmt.io import TraceWriter, open_trace
from tracefmt.meta import TraceMeta
from tracefmt.platform import example_x86
from tracefmt.schema import BYTES_PER_EVENT, empty_columns
from tracefmt.validate import check

MIX = {
    Kind.HC_ENTRY: 0.22,
    Kind.HC_EXIT: 0.20,
    Kind.IRQ_ARRIVAL: 0.08,
    Kind.IRQ_MASK: 0.03,
    Kind.IRQ_UNMASK: 0.03,
    Kind.IRQ_EOI: 0.08,
    Kind.SM_UP: 0.10,
    Kind.SM_BLOCK: 0.06,
    Kind.EC_WAKE: 0.06,
    Kind.SCHED_SWITCH: 0.12,
    Kind.IPI_SEND: 0.01,
    Kind.IPI_RECV: 0.01,
}


def generate(n: int, cpus: int = 4, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = empty_columns(n)
    c["ts"][:] = np.cumsum(rng.exponential(400, n).astype(np.int64) + 1)
    c["cpu"][:] = rng.integers(0, cpus, n)
    for cpu in range(cpus):
        m = c["cpu"] == cpu
        c["seq"][m] = np.arange(int(m.sum()))
    kinds = np.array([int(k) for k in MIX], np.uint8)
    c["kind"][:] = rng.choice(kinds, n, p=np.array(list(MIX.values())) / sum(MIX.values()))
    base = np.int64(-0x0000_7FFF_FFF0_0000)  # kernel-half addresses, bit-cast
    objs = base + 64 * rng.zipf(1.3, n).clip(1, 4000).astype(np.int64)
    c["ec"][:] = base + 64 * rng.integers(0, 64, n)
    hc_words = (rng.integers(0x40, 0x400, n) << 8) | (rng.integers(0, 4, n) << 4) | rng.integers(0, 15, n)
    entry = c["kind"] == int(Kind.HC_ENTRY)
    exit_ = c["kind"] == int(Kind.HC_EXIT)
    c["a0"][:] = np.where(entry, hc_words, np.where(exit_, rng.choice([0, 0, 0, 5, 8], n), objs))
    c["a1"][:] = np.where(entry | exit_, rng.integers(0, 0x40000, n), rng.integers(0, 2, n))
    ipi = (c["kind"] == int(Kind.IPI_SEND)) | (c["kind"] == int(Kind.IPI_RECV))
    c["a0"][ipi] = rng.integers(0, cpus, int(ipi.sum()))
    c["a2"][:] = np.where(entry, rng.integers(0, 1 << 20, n), 0)
    c["a4"][:] = np.where(exit_, rng.integers(0, 15, n), 0)
    c["hc"] = fill_hc(c["kind"], c["a0"], c["a4"], "nova-2024")
    return c


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: Path, n: int) -> dict[str, object]:
    t = time.perf_counter()
    r = open_trace(path)
    acc = 0
    rows = 0
    for b in r.batches():
        rows += b.n
        for col in b:
            acc += int(col[-1]) if col.size else 0  # touch the buffer without a full copy
    t_open_iter = time.perf_counter() - t
    t = time.perf_counter()
    total = 0
    for b in open_trace(path).batches():
        total ^= int(b.ts.sum()) ^ int(b.a0.sum()) ^ int(b.ec.sum())  # read three full columns
    t_sum = time.perf_counter() - t
    t = time.perf_counter()
    r2 = open_trace(path)
    report = check(r2.batches(), r2.platform, str(path))
    t_check = time.perf_counter() - t
    assert rows == n and report.ok, report.errors[:3]
    return {
        "container": r.container,
        "events": n,
        "bytes_on_disk": path.stat().st_size,
        "bytes_per_event_disk": round(path.stat().st_size / n, 2),
        "read_batches_events_per_s": round(n / t_open_iter),
        "read_and_sum_3_columns_events_per_s": round(n / t_sum),
        "validate_events_per_s": round(n / t_check),
        "_": acc + total,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--trace", type=Path, help="measure this trace instead of generated events")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.trace:
            src = open_trace(args.trace)
            meta = src.meta
            batches = list(src.batches())
        else:
            meta = TraceMeta(platform=example_x86(cpus=4), provenance={"capture": {"source": "bench_format"}})
            batches = [generate(args.events)]
        n = sum(len(b[0]) if not isinstance(b, dict) else len(b["ts"]) for b in batches)
        for suffix in (".parquet", ".arrows"):
            path = Path(tmp) / f"t{suffix}"
            t = time.perf_counter()
            with TraceWriter(path, meta) as w:
                for b in batches:
                    w.write(b)
            write_s = time.perf_counter() - t
            res = measure(path, n)
            res.pop("_")
            res.update(
                bytes_per_event_memory=BYTES_PER_EVENT,
                write_events_per_s=round(n / write_s),
                peak_rss_mb=round(peak_rss_mb()),
                load=os.getloadavg()[0],
                source=str(args.trace) if args.trace else "generated",
            )
            print(json.dumps(res))


if __name__ == "__main__":
    main()
