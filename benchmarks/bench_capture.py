"""Ring decode throughput and peak memory: ``python benchmarks/bench_capture.py [--sizes 1e5,1e6,1e7]``.

For each size, lossless per-CPU ring dumps of a bursty 4-CPU recording are generated on disk (chunk by chunk,
so even 10^8 records need little memory), then a fresh child process decodes them and reports:

* ``decode``: rings -> merged (ts, cpu, seq) event batches, nothing kept (``RingDecoder.events``), per second
  of wall time and per second of the process's CPU time (the VM is shared: CPU time is the steadier figure);
* ``scan``: the per-CPU decode-only pass ``import rings`` runs first for its loss summary;
* ``import``: the whole ``novatrace import rings`` to Parquet (sizes up to --import-max);
* ``peak_rss_mb``: the child's peak resident memory (ru_maxrss), which includes the mapped ring pages;

plus, at the largest size, ``decode_one_cpu_ring`` (a quarter of the records, one ring: no merging) and
``decode_random_interleave`` (every record on a random CPU: the merge's worst case; real CPUs record in
bursts). Prints one JSON document; the machine's load average is
recorded with it because other jobs share the 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as pyplatform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CPUS = 4
CHUNK = 1 << 20


def _platform():  # type: ignore[no-untyped-def]
    from tracefmt.platform import example_x86

    return example_x86(cpus=CPUS)


def generate(out: Path, n: int, bursty: bool, seed: int = 1) -> list[Path]:
    """Lossless ring dumps of ``n`` records over CPUS CPUs, written chunk by chunk (bounded memory).

    Bursty: each CPU records bursts of ~6 records a few ticks apart, bursts ~200 ticks apart, so the CPUs'
    records interleave in runs, as a hypercall or an interrupt produces several events on one CPU. Otherwise
    every record's CPU is random (per-record interleaving).
    """
    from tracefmt.capture import layout as L
    from tracefmt.capture.ringwrite import _header  # the writer's own header builder

    rng = np.random.default_rng(seed)
    per_cpu = [n // CPUS + (1 if c < n % CPUS else 0) for c in range(CPUS)]
    paths = []
    kinds = np.array([0, 1, 7, 9, 10, 2, 5], np.int64)
    for c, count in enumerate(per_cpu):
        path = out / f"cpu{c}.ring"
        st = np.zeros(12, np.int64)
        st[3] = count  # next_seq
        header = _header(c, st, _platform().stc_hz, max(count, 1), L.MODE_OVERWRITE)
        t = 1_000_000 + c
        with open(path, "wb") as f:
            f.write(header.tobytes())
            for start in range(0, count, CHUNK):
                m = min(CHUNK, count - start)
                if bursty:
                    step = np.where(rng.random(m) < 1 / 6, rng.integers(100, 300, m), rng.integers(1, 5, m))
                else:
                    step = rng.integers(1, 2 * CPUS * 4, m)
                ts = t + np.cumsum(step)
                t = int(ts[-1])
                seq = np.arange(start, start + m, dtype=np.int64)
                slots = np.empty((m, L.RECORD_WORDS), np.int64)
                slots[:, 0] = seq
                slots[:, 1] = ts
                slots[:, 2] = 0xFFFF800000100000 - (1 << 64) + (seq & 0xFF) * 0x100
                slots[:, 3:8] = rng.integers(0, 1 << 40, (m, 5))
                kind = kinds[rng.integers(0, len(kinds), m)]
                slots[:, 8] = L.commit_word(seq, kind).view(np.int64)
                f.write(slots.tobytes())
        paths.append(path)
    return paths


def child(ring_dir: Path, mode: str) -> dict:
    """Runs in a fresh process: decode (or import) the rings in ``ring_dir`` and measure."""
    from tracefmt.capture.rings import RingDecoder, import_rings

    plat = _platform()
    paths = sorted(ring_dir.glob("cpu*.ring"))
    t0 = time.perf_counter()
    warm = tempfile.mkdtemp()
    try:  # load (or compile) the numba kernels on a tiny ring first: not part of the figure
        from tracefmt.builder import TraceBuilder
        from tracefmt.capture.ringwrite import write_rings
        from tracefmt.events import Kind

        b = TraceBuilder(plat)
        b.event(0, Kind.MARKER, marker=0, string=-1)
        RingDecoder(write_rings(b.batch(), plat, warm, ring_records=2), plat).read_all()
    finally:
        shutil.rmtree(warm)
    jit_s = time.perf_counter() - t0
    dec = RingDecoder(paths, plat)
    out: dict = {"jit_warmup_s": round(jit_s, 3)}
    if mode == "decode":
        t0, c0 = time.perf_counter(), time.process_time()
        n = sum(b.n for b in dec.events())
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        out |= {"events": n, "decode_s": round(dt, 3), "decode_events_per_s": round(n / dt)}
        out |= {"decode_cpu_s": round(dc, 3), "decode_events_per_cpu_s": round(n / dc)}
        t0, c0 = time.perf_counter(), time.process_time()
        dec.scan()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        out |= {"scan_s": round(dt, 3), "scan_events_per_s": round(n / dt), "scan_events_per_cpu_s": round(n / dc)}
    else:
        target = ring_dir / "trace.parquet"
        t0 = time.perf_counter()
        res = import_rings(paths, plat, target)
        dt = time.perf_counter() - t0
        out |= {"events": res.events, "import_s": round(dt, 3), "import_events_per_s": round(res.events / dt)}
        out["parquet_bytes"] = target.stat().st_size
        target.unlink()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def run_child(ring_dir: Path, mode: str) -> dict:
    res = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(ring_dir)], capture_output=True, text=True, check=False
    )
    if res.returncode:
        raise RuntimeError(res.stderr)
    return json.loads(res.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1e5,1e6,1e7", help="record counts, comma separated (e.g. 1e5,1e6,1e7,1e8)")
    ap.add_argument("--import-max", type=float, default=1e7, help="largest size also imported to Parquet")
    ap.add_argument("--dir", default=None, help="where to put the ring dumps (default: a temp dir, removed)")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[1]), args.child[0])))
        return
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    base = Path(args.dir or tempfile.mkdtemp(prefix="bench-capture-"))
    results = []
    try:
        for n in sizes:
            d = base / f"n{n}"
            d.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            generate(d, n, bursty=True)
            row = {"records": n, "cpus": CPUS, "ring_bytes": sum(p.stat().st_size for p in d.glob("*.ring"))}
            row["generate_s"] = round(time.perf_counter() - t0, 2)
            row["decode"] = run_child(d, "decode")
            if n <= args.import_max:
                row["import"] = run_child(d, "import")
            if n == max(sizes):
                for name in ("cpu1.ring", "cpu2.ring", "cpu3.ring"):  # the merge-free case: one ring alone
                    (d / name).unlink()
                row["decode_one_cpu_ring"] = run_child(d, "decode")
                shutil.rmtree(d)
                d.mkdir()
                generate(d, n, bursty=False)
                row["decode_random_interleave"] = run_child(d, "decode")
            shutil.rmtree(d)
            results.append(row)
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    print(
        json.dumps(
            {
                "benchmark": "capture: ring decode",
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": pyplatform.python_version(),
                    "load_avg_at_end": os.getloadavg(),
                },
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
