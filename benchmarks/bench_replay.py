"""Replay throughput and memory: the numba loop alone, and ``novatrace replay`` end to end (Parquet in).

    python benchmarks/bench_replay.py                    # 10^5, 10^6, 10^7 events
    python benchmarks/bench_replay.py --huge             # ... and 10^8
    python benchmarks/bench_replay.py --trace X.parquet  # an existing trace (e.g. from novatrace synth)
    python benchmarks/bench_replay.py --synth            # input from the synthesizer (healthy x86, 4 CPUs)

Prints one JSON line per size and mode: ``kernel`` (Engine.feed over batches already in memory, i.e. the numba
loop plus per-batch driver overhead) and ``e2e`` (open the Parquet file, replay every batch, build the findings
frame - what ``novatrace replay`` does minus printing). Each size runs in a fresh subprocess so ``peak_rss_mb``
is that run's own maximum resident set. Compile time is excluded (one warm-up replay first).

Input (default): a booted x86 nova-2024 trace whose body repeats one healthy steady-state
cycle of the reference tests' interrupt trace (root downs the level-pin semaphore of GSI 16 and blocks, the
pin arrives on the idle CPU, is masked, the up wakes the root, EOI, switch back, HC_EXIT) - 16 events per
cycle, timestamps and per-CPU sequence numbers shifted per copy. Both models replay it with zero findings.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the healthy hand-built traces of the reference tests

BATCH = 1 << 20


def steady_trace() -> tuple[object, object, object]:
    """(platform, boot+first-cycle batch, one repeatable cycle batch)."""
    from test_reference_irq import _level_pin_cycle
    from test_reference_support import Trace, x86
    from test_reference_traces import interrupt_trace

    head = Trace(x86())
    _level_pin_cycle(head)
    full = interrupt_trace()
    b = full.b.batch()
    n1 = len(head.b.rows)
    return full.platform, b.slice(0, n1), b.slice(n1, b.n)


def batches(n: int) -> Iterator[object]:
    """``n`` events (rounded to whole cycles): the boot and first cycle, then copies of the steady cycle."""
    from tracefmt.schema import EventBatch

    _, head, cyc = steady_trace()
    yield head
    m = cyc.n
    span = int(cyc.ts[-1] - cyc.ts[0]) + 100
    per_cpu = np.bincount(cyc.cpu.astype(np.int64), minlength=int(cyc.cpu.max()) + 1)
    seq_step = per_cpu[cyc.cpu.astype(np.int64)]  # a copy shifts each CPU's sequence numbers by its row count
    total = max(0, (n - head.n) // m)
    per_batch = max(1, BATCH // m)
    k = 0
    while k < total:
        c = min(per_batch, total - k)
        rep = np.repeat(np.arange(k, k + c, dtype=np.int64), m)
        cols = {name: np.tile(getattr(cyc, name), c) for name in EventBatch._fields}
        cols["ts"] = cols["ts"] + rep * span
        cols["seq"] = cols["seq"] + rep * np.tile(seq_step, c)
        yield EventBatch(**cols)
        k += c


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_kernel(arg: str) -> dict:
    from replay.engine import Engine

    if arg.isdigit():
        platform, _, _ = steady_trace()
        data = list(batches(int(arg)))
    else:  # a trace file, read into memory first
        from tracefmt.io import open_trace

        r = open_trace(arg)
        platform, data = r.platform, list(r.batches())
    Engine(platform).feed(data[0])  # warm-up: load the compiled kernel
    eng = Engine(platform)
    t0 = time.perf_counter()
    for b in data:
        eng.feed(b)
    secs = time.perf_counter() - t0
    return {"mode": "kernel", "events": eng.events, "seconds": secs, "findings": len(eng.findings())}


def run_e2e(path: str) -> dict:
    from replay.engine import replay_engine
    from tracefmt.io import open_trace

    r = open_trace(path)
    replay_engine(r.platform, next(iter(r.batches(1000))))  # warm-up (compiled kernel load)
    t0 = time.perf_counter()
    r = open_trace(path)
    eng = replay_engine(r.platform, r.batches())
    frame = eng.findings_frame()
    secs = time.perf_counter() - t0
    return {"mode": "e2e", "events": eng.events, "seconds": secs, "findings": frame.height}


def write_parquet(n: int, path: str) -> None:
    from tracefmt.io import TraceWriter
    from tracefmt.meta import TraceMeta

    platform, _, _ = steady_trace()
    with TraceWriter(path, TraceMeta(platform, {"capture": {"source": "bench_replay steady cycle"}})) as w:
        for b in batches(n):
            w.write(b)


def write_synth(n: int, path: str) -> None:
    from synth.config import load_config
    from synth.run import synthesize

    synthesize(load_config("healthy", arch="x86_64", api="nova-2024", events=n, cpus=4, seed=1), Path(path))


def child(mode: str, arg: str) -> None:
    res = run_kernel(arg) if mode == "kernel" else run_e2e(arg)
    res["events_per_s"] = round(res["events"] / res["seconds"])
    res["seconds"] = round(res["seconds"], 4)
    res["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(res), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--huge", action="store_true", help="also 10^8 events")
    ap.add_argument("--sizes", type=int, nargs="*", help="event counts (default 10^5 10^6 10^7)")
    ap.add_argument("--trace", help="replay this trace end to end instead of generated input")
    ap.add_argument("--synth", action="store_true", help="synthesized input (novatrace synth, healthy x86_64)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(*a.child)
        return
    me = [sys.executable, __file__, "--child"]
    if a.trace:
        subprocess.run([*me, "e2e", a.trace], check=True)
        return
    sizes = a.sizes or [10**5, 10**6, 10**7] + ([10**8] if a.huge else [])
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        for n in sizes:
            path = str(Path(tmp) / f"input-{n}.parquet")
            if a.synth:
                write_synth(n, path)
                subprocess.run([*me, "kernel", path], check=True)
            else:
                write_parquet(n, path)
                subprocess.run([*me, "kernel", str(n)], check=True)
            subprocess.run([*me, "e2e", path], check=True)
            os.unlink(path)


if __name__ == "__main__":
    main()
