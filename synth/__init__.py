"""Workload synthesizer: realistic NOVA traces with injected faults and ground truth (issue 3).

``synthesize(config, out)`` writes a trace and its ``<trace>.labels.parquet``. The boot and control plane
are built in Python (:mod:`synth.plan`); the steady state comes from one numba kernel (:mod:`synth.kernel`).
"""

from tracefmt.jit import configure

configure()  # before anything imports numba

from synth.config import PRESETS, SynthConfig, load_config  # noqa: E402

__all__ = ["PRESETS", "SynthConfig", "load_config"]
