"""Rebuild the synthesized sample traces (each with its ``.labels.parquet``): ``python sample_traces/make_samples.py``.

Small on purpose (a few thousand events each, well under 1 MB in total); ``novatrace synth`` makes big ones.
"""

from __future__ import annotations

from pathlib import Path

from synth.config import load_config
from synth.run import synthesize

HERE = Path(__file__).resolve().parent
COMMON = {"cpus": 4, "devices": 8, "irqs_per_device": 2, "events": 4000, "seed": 1}

# file name -> (scenario, options)
SAMPLES: dict[str, tuple[str, dict]] = {
    "x86-healthy.parquet": ("healthy", {"arch": "x86_64", "api": "nova-2024"}),
    "arm-healthy.parquet": ("healthy", {"arch": "aarch64", "api": "nova-2026"}),
    "x86-lost-irq.parquet": ("lost-irq", {"arch": "x86_64", "api": "nova-2024", "lost_irq": 0.02}),
    "arm-misroute.parquet": ("misroute", {"arch": "aarch64", "api": "nova-2024", "misroute": 0.06}),
    "x86-latency.parquet": ("latency", {"arch": "x86_64", "api": "nova-2024", "latency": 0.02}),
    "x86-divergence.parquet": ("divergence", {"arch": "x86_64", "api": "nova-2024", "divergence": 0.01}),
    "x86-version-a.parquet": ("version-a", {"arch": "x86_64"}),
    "x86-version-b.parquet": ("version-b", {"arch": "x86_64"}),
}


def main() -> None:
    for name, (scenario, options) in SAMPLES.items():
        summary = synthesize(load_config(scenario, **{**COMMON, **options}), HERE / name)
        print(f"{name}: {summary['events']} events, {summary['faults']} faults, {summary['bytes']} bytes")


if __name__ == "__main__":
    main()
