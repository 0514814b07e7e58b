"""Synthesizer throughput and peak memory: one JSON line per size (events, seconds, events/s, peak RSS MB).

    python benchmarks/bench_synth.py                 # 1e5, 1e6, 1e7 events, x86_64 and aarch64
    python benchmarks/bench_synth.py --sizes 1e8     # optional, big

Each size runs in a fresh process so the peak RSS is its own; the numba compile is done (and cached) by a
warm-up run first and not counted.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one(arch: str, events: int, scenario: str, out_dir: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from synth.config import load_config
    from synth.run import synthesize

    out = out_dir / f"bench-{arch}-{events}.parquet"
    cfg = load_config(scenario, arch=arch, events=events, cpus=8, devices=64, irqs_per_device=4)
    t0 = time.perf_counter()
    summary = synthesize(cfg, out)
    secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "bench": "synth",
        "arch": arch,
        "scenario": scenario,
        "events": summary["events"],
        "seconds": round(secs, 3),
        "events_per_s": round(summary["events"] / secs),
        "peak_rss_mb": round(rss, 1),
        "bytes": summary["bytes"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="*", default=["1e5", "1e6", "1e7"])
    ap.add_argument("--arches", nargs="*", default=["x86_64", "aarch64"])
    ap.add_argument("--scenario", default="healthy")
    ap.add_argument("--child", nargs=3, metavar=("ARCH", "EVENTS", "DIR"))
    args = ap.parse_args()
    if args.child:
        arch, events, d = args.child
        print(json.dumps(one(arch, int(events), args.scenario, Path(d))), flush=True)
        return
    with tempfile.TemporaryDirectory() as d:
        for arch in args.arches:
            subprocess.run([sys.executable, __file__, "--child", arch, "10000", d], check=True, capture_output=True)
            for size in args.sizes:
                subprocess.run([sys.executable, __file__, "--scenario", args.scenario, "--child", arch,
                                str(int(float(size))), d], check=True)  # fmt: skip
                for f in Path(d).glob("bench-*"):
                    f.unlink()


if __name__ == "__main__":
    main()
