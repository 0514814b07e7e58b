"""Synthesized traces through the numba engine: a healthy trace replays with zero findings except the INFO
TRACE_GAP of the recorder loss the scenario injects, on both architectures and both generations, and on
every scenario the engine's claimed findings are exactly the reference model's."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_engine_diff import _claimed, _sound

from replay.engine import replay_engine
from replay.reference import replay_reference
from synth.config import load_config
from synth.faults import labels_path
from synth.run import synthesize
from tracefmt.findings import FindingCode, Severity
from tracefmt.io import open_trace
from tracefmt.schema import concat

SMALL = {"cpus": 4, "devices": 8, "irqs_per_device": 3, "events": 3000}
PLATFORMS = [(a, g) for a in ("x86_64", "aarch64") for g in ("nova-2024", "nova-2026")]


def _trace(tmp: Path, scenario: str, arch: str, api: str):
    cfg = load_config(scenario, **{**SMALL, "arch": arch, "api": api})
    out = tmp / f"{scenario}-{arch}-{api}.parquet"
    synthesize(cfg, out)
    r = open_trace(out)
    return r.platform, concat(list(r.batches())), pq.read_table(labels_path(out)).to_pylist()


@pytest.mark.parametrize(("arch", "api"), PLATFORMS)
def test_healthy_synthesized_trace_has_only_the_injected_gap(tmp_path: Path, arch: str, api: str) -> None:
    platform, b, labels = _trace(tmp_path, "healthy", arch, api)
    loss = sorted({lab["event"] for lab in labels if lab["fault"] == "recorder_loss/dropped_records"})
    eng = replay_engine(platform, b)
    assert [(FindingCode(f.code).name, f.event, f.severity) for f in eng.findings()] == [
        ("TRACE_GAP", e, int(Severity.INFO)) for e in loss
    ]
    assert eng.summary()["checked"]["exits_paired"] > 100


@pytest.mark.parametrize("scenario", ["divergence", "loss", "truncated"])
@pytest.mark.parametrize(("arch", "api"), PLATFORMS[::3])
def test_claimed_findings_equal_the_reference(tmp_path: Path, scenario: str, arch: str, api: str) -> None:
    platform, b, _ = _trace(tmp_path, scenario, arch, api)
    eng, ref = replay_engine(platform, b).findings(), replay_reference(platform, b).findings
    _sound(ref, eng, scenario)
    assert _claimed(eng) == _claimed(ref)
