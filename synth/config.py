"""What to synthesize: a validated configuration from presets, options or a small TOML file."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from tracefmt.nova import API_2024, API_2026, API_GENERATIONS

ARCHES = ("x86_64", "aarch64")
FORMATS = ("parquet", "ipc", "rings")
MAX_EVENTS = 10**9


@dataclass(frozen=True)
class SynthConfig:
    """The workload and the faults. Rates are per steady-state episode (one interrupt cycle, one IPC ...)."""

    arch: str = "x86_64"
    api: str = API_2024
    events: int = 10_000
    cpus: int = 4
    devices: int = 16
    irqs_per_device: int = 4
    seed: int = 1
    scenario: str = "healthy"
    batch_rows: int = 1 << 18
    # workload mix (relative weights of episode kinds)
    w_irq: float = 10.0
    w_ipc: float = 3.0
    w_preempt: float = 1.0
    w_storm: float = 0.3  # a burst of edge interrupts while the driver runs (semaphore counts up)
    w_rke: float = 0.1  # TLB-shootdown IPIs (IPI_SEND/RECV RKE)
    w_root: float = 0.05  # root task wakes up: bookkeeping, a failing hypercall
    # faults (probability per episode)
    lost_irq: float = 0.0  # expected-by-driver interrupt never arrives / edge while masked / level never unmasked
    misroute: float = 0.0  # wrong CPU, unauthorised source, unassigned interrupt
    latency: float = 0.0  # handling delayed by a higher-priority SC, budget exhaustion, IPI storm
    recorder_loss: float = 0.0  # a run of records dropped on one CPU (sequence gap + RECORDER_LOSS)
    divergence: float = 0.0  # kernel divergences: wrong status, missing wake, wake of the wrong EC
    min_recorder_losses: int = 0  # at least this many losses (healthy has one: every kind appears)
    truncate: bool = False  # cut the output (IPC stream) in the middle of a batch

    def validated(self) -> SynthConfig:
        """Self if every value is in range; ValueError naming the first bad one."""
        if self.arch not in ARCHES:
            raise ValueError(f"--arch {self.arch!r} unknown (expected {' or '.join(ARCHES)})")
        if self.api not in API_GENERATIONS:
            raise ValueError(f"--api {self.api!r} unknown (expected {' or '.join(API_GENERATIONS)})")
        if not 1 <= self.cpus <= 256:
            raise ValueError(f"--cpus {self.cpus} out of range 1..256")
        if not 1 <= self.devices <= 4096:
            raise ValueError(f"--devices {self.devices} out of range 1..4096")
        if not 1 <= self.irqs_per_device <= 64:
            raise ValueError(f"--irqs-per-device {self.irqs_per_device} out of range 1..64")
        if not 1_000 <= self.events <= MAX_EVENTS:
            raise ValueError(f"--events {self.events} out of range 1000..{MAX_EVENTS}")
        if not 1_000 <= self.batch_rows <= 1 << 24:
            raise ValueError(f"batch_rows {self.batch_rows} out of range 1000..{1 << 24}")
        for f in fields(self):
            if f.name.startswith("w_") or f.name in FAULT_FIELDS:
                v = getattr(self, f.name)
                if not 0 <= v <= (1000 if f.name.startswith("w_") else 1):
                    raise ValueError(f"{f.name} = {v} out of range")
        if self.w_irq <= 0:
            raise ValueError("w_irq must be positive (interrupt cycles are the workload)")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FAULT_FIELDS = ("lost_irq", "misroute", "latency", "recorder_loss", "divergence")

# Named presets: the options each one sets on top of the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "healthy": {"min_recorder_losses": 1},
    "lost-irq": {"lost_irq": 0.01},
    "misroute": {"misroute": 0.01},
    "latency": {"latency": 0.01},
    "storm": {"w_storm": 3.0, "w_rke": 1.0, "latency": 0.005},
    "truncated": {"truncate": True},
    "loss": {"recorder_loss": 0.002},
    "divergence": {"divergence": 0.002},
    "version-a": {"api": API_2024},
    "version-b": {"api": API_2026},
}


def load_config(scenario: str = "healthy", toml_path: Path | None = None, **options: Any) -> SynthConfig:
    """Preset ``scenario``, then the TOML file's keys, then explicit options (None = not given)."""
    if scenario not in PRESETS:
        raise ValueError(f"--scenario {scenario!r} unknown (known: {', '.join(PRESETS)})")
    values: dict[str, Any] = {"scenario": scenario, **PRESETS[scenario]}
    known = {f.name: f.type for f in fields(SynthConfig)}
    if toml_path is not None:
        try:
            doc = tomllib.loads(Path(toml_path).read_text())
        except OSError as e:
            raise ValueError(f"{toml_path}: cannot read ({e.strerror})") from None
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{toml_path}: not valid TOML ({e})") from None
        flat = {**doc.pop("faults", {}), **doc.pop("workload", {}), **doc}
        if "scenario" in flat and flat["scenario"] != scenario:
            preset = flat["scenario"]
            if preset not in PRESETS:
                raise ValueError(f"{toml_path}: scenario {preset!r} unknown")
            values.update(PRESETS[preset])
        for key, v in flat.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ValueError(f"{toml_path}: unknown key {key!r}")
            values[name] = v
    for key, v in options.items():
        if v is not None:
            values[key] = v
    cfg = SynthConfig()
    try:
        cfg = replace(cfg, **{k: _coerce(k, v) for k, v in values.items()})
    except (TypeError, ValueError) as e:
        raise ValueError(f"bad configuration value: {e}") from None
    return cfg.validated()


def _coerce(name: str, v: Any) -> Any:
    default = getattr(SynthConfig(), name)
    if isinstance(default, bool):
        if not isinstance(v, bool):
            raise ValueError(f"{name} must be true or false")
        return v
    if isinstance(default, int):
        f = float(v)
        if f != int(f):
            raise ValueError(f"{name} must be an integer")
        return int(f)
    if isinstance(default, float):
        return float(v)
    return str(v)


def version_pair_api(scenario: str) -> str:
    return API_2026 if scenario == "version-b" else API_2024
