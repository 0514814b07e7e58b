"""Throughput and memory of ``novatrace tables`` and the time of ``novatrace state --at`` with and without
checkpoints.

    python benchmarks/bench_tables.py                        # tables at 10^5, 10^6, 10^7 events; state at 10^5
    python benchmarks/bench_tables.py --state-sizes 100000 1000000
    python benchmarks/bench_tables.py --sizes 100000000      # 10^8 (optional, ~7 GB of Parquet work)
    python benchmarks/bench_tables.py --input synth          # healthy ``novatrace synth`` traces instead

Input: a correct kernel run built from the hand-written test sequences (tests/test_tables.py): boot, an
interrupt semaphore and a local EC, then one cycle repeated - a level-pin interrupt wakes the root EC, the root
calls the local EC through a portal and gets the reply, acknowledges with ctrl_sm down (unmask) and blocks
again. The cycle leaves the kernel state as it found it, so the tiled trace replays without findings and the
reference model does real work on every event. Each measurement runs in a fresh process (peak RSS is that
process's ``ru_maxrss``). Prints one JSON line per measurement.
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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def template():  # type: ignore[no-untyped-def]
    """(builder with the prefix rows, index where the repeatable cycle starts)."""
    from test_reference_ipc import reply_to_root
    from test_reference_irq import pull_int
    from test_reference_support import Trace, enter_local, x86
    from test_tables import PIN, T, arrive, assign, down_and_block, irq_ev, root_runs, up_wake

    from tracefmt.events import IrqCause, Kind, SwitchReason
    from tracefmt.nova import Hc

    t = Trace(x86(cpus=2))
    sm = pull_int(t, 16)
    assign(t, T)
    local, portal = enter_local(t, sel=0x400)
    reply_to_root(t, local, portal, 1)
    t.ec = t.ids.root_ec
    down_and_block(t, sm, [(Kind.IRQ_UNMASK, 16, PIN)])
    start = len(t.b.rows)
    idle = t.ids.idle_ec[0]
    arrive(t, 0x30, 16, PIN, source=0x18)
    irq_ev(t, Kind.IRQ_MASK, 16, PIN, IrqCause.ARRIVAL, ec=idle)
    up_wake(t, sm, 16)
    irq_ev(t, Kind.IRQ_EOI, 16, PIN, IrqCause.ARRIVAL, ec=idle)
    root_runs(t)
    root, root_sc = t.ids.root_ec, t.ids.root_sc
    t.b.hc_entry(0, root, Hc.IPC_CALL, sel=portal, p1=0)
    t.b.event(0, Kind.SCHED_SWITCH, ec=local, from_ec=root, to_ec=local, from_sc=root_sc, to_sc=root_sc,
              switch_reason=SwitchReason.IPC_CALL)  # fmt: skip
    reply_to_root(t, local, portal, 1)
    down_and_block(t, sm, [(Kind.IRQ_UNMASK, 16, PIN)])
    return t, start


def generate(n: int, path: Path) -> int:
    """Write a trace of about ``n`` events (prefix + whole cycles) to ``path``; returns the event count."""
    from tracefmt.io import TraceWriter
    from tracefmt.schema import EventBatch

    t, start = template()
    cols = t.b.columns()
    span = int(cols["ts"][-1] - cols["ts"][start]) + t.b.tick
    per_cpu = np.bincount(cols["cpu"][start:], minlength=t.platform.cpus)
    cycle = {k: v[start:] for k, v in cols.items()}
    clen = len(cycle["ts"])
    cycles = max(1, (n - start) // clen)
    total = start + cycles * clen
    with TraceWriter(path, t.b.meta({"capture": {"source": "bench_tables"}}), container="parquet") as w:
        w.write(EventBatch(*(v[:start] for v in cols.values())))
        step = max(1, (1 << 20) // clen)
        for k0 in range(0, cycles, step):
            k = np.repeat(np.arange(k0, min(cycles, k0 + step), dtype=np.int64), clen)
            chunk = {name: np.tile(v, len(k) // clen) for name, v in cycle.items()}
            chunk["ts"] = chunk["ts"] + k * span
            chunk["seq"] = chunk["seq"] + k * per_cpu[chunk["cpu"]]
            w.write(EventBatch(*chunk.values()))
    return total


def synth(n: int, path: Path) -> int:
    """A healthy ``novatrace synth`` trace of about ``n`` events (4 CPUs, seed 1); returns its event count."""
    cmd = [sys.executable, "-c", "from cli.main import run; run()", "synth", "-o", str(path), "--events", str(n)]
    out = subprocess.run([*cmd, "--seed", "1", "--force", "--json"], check=True, capture_output=True, text=True)
    return int(json.loads(out.stdout)["events"])


def measure_tables(path: Path) -> dict[str, object]:
    from replay.tables import TableBuilder
    from tracefmt.io import open_trace

    r = open_trace(path)
    t0 = time.perf_counter()
    warm = TableBuilder(r.platform.cpus)  # load the compiled kernels from the numba cache (not measured)
    warm.feed(next(r.batches(1000)))
    warm.finish()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tb = TableBuilder(r.platform.cpus)
    kernel = 0.0
    for b in r.batches():
        k0 = time.perf_counter()
        tb.feed(b)
        kernel += time.perf_counter() - k0
    out = tb.finish()
    dt = time.perf_counter() - t0
    n = tb.events
    return {
        "bench": "tables",
        "events": n,
        "seconds": round(dt, 3),
        "events_per_s": round(n / dt),
        "kernel_events_per_s": round(n / kernel),
        "jit_cache_load_s": round(load_s, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rows": {k: len(v) for k, v in out._asdict().items()},
        "outcomes": out.interrupts["outcome"].value_counts().sort("outcome").rows(),
        "load": os.getloadavg()[0],
    }


def measure_state(path: Path, cache: Path) -> dict[str, object]:
    from replay.checkpoint import state_at
    from tracefmt.io import open_trace

    r = open_trace(path)
    ts = r.read_all().ts
    n = len(ts)
    late, mid = int(ts[int(n * 0.9)]), int(ts[n // 2])

    def timed(at: int, use_cache: bool) -> tuple[float, object]:
        t0 = time.perf_counter()
        res = state_at(r, at, use_cache=use_cache, root=cache)
        return time.perf_counter() - t0, res

    full_s, full = timed(late, False)
    cold_s, _ = timed(late, True)
    warm_s, warm = timed(late, True)
    mid_s, _ = timed(mid, True)
    files = list(cache.rglob("*.ckpt"))
    sizes = [f.stat().st_size for f in files]
    same = json.dumps(full.result.snapshot(), sort_keys=True) == json.dumps(warm.result.snapshot(), sort_keys=True)
    return {
        "bench": "state_at",
        "events": n,
        "at_event": int(n * 0.9),
        "no_cache_s": round(full_s, 2),
        "reference_events_per_s": round(full.result.events / full_s),
        "first_query_writing_checkpoints_s": round(cold_s, 2),
        "checkpoints": len(files),
        "checkpoint_mb": round(sum(sizes) / len(files) / 1e6, 3) if files else 0,
        "repeat_query_s": round(warm_s, 2),
        "resumed_from": warm.resumed_from,
        "query_at_half_s": round(mid_s, 2),
        "same_state": same,
        "findings": len(full.result.findings),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "load": os.getloadavg()[0],
    }


def child(args: list[str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10**5, 10**6, 10**7])
    ap.add_argument("--state-sizes", type=int, nargs="*", default=[10**5])
    ap.add_argument("--input", choices=["pattern", "synth"], default="pattern", help="tiled test cycle or synth")
    ap.add_argument("--measure-tables", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--measure-state", type=Path, nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.measure_tables:
        print(json.dumps(measure_tables(a.measure_tables)))
        return
    if a.measure_state:
        print(json.dumps(measure_state(*a.measure_state)))
        return
    make = synth if a.input == "synth" else generate
    with tempfile.TemporaryDirectory() as d:
        warm = Path(d) / "warm.parquet"
        generate(2000, warm)
        child(["--measure-tables", str(warm)])  # compile once, outside the measurements
        for n in a.sizes:
            p = Path(d) / f"t{n}.parquet"
            make(n, p)
            print(json.dumps({"input": a.input, **child(["--measure-tables", str(p)])}), flush=True)
            p.unlink()
        for n in a.state_sizes:
            p = Path(d) / f"s{n}.parquet"
            make(n, p)
            result = child(["--measure-state", str(p), str(Path(d) / f"cache{n}")])
            print(json.dumps({"input": a.input, **result}), flush=True)


if __name__ == "__main__":
    main()
