"""Workload synthesizer: realistic NOVA traces with injected faults and ground truth (issue 3).

    from synth.config import load_config
    from synth.run import synthesize

    summary = synthesize(load_config("lost-irq", arch="aarch64", api="nova-2026", events=10**6), Path("t.parquet"))

writes a trace and its ``t.labels.parquet`` (ground truth: one row per injected fault, :mod:`synth.faults`).
Modules: ``config`` (options, presets, TOML), ``platform`` (the machine), ``plan`` (boot and control plane,
Python), ``kernel`` (the steady state, numba), ``run`` (batches, time-order merge, writing), ``faults``.
"""

from tracefmt.jit import configure

configure()  # before anything imports numba

from synth.config import PRESETS, SynthConfig, load_config  # noqa: E402

__all__ = ["PRESETS", "SynthConfig", "load_config"]
