"""``novatrace synth``: exit codes, one-line errors, JSON summary, formats."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cli.main import cli
from tracefmt.io import open_trace

ARGS = ["--cpus", "2", "--devices", "4", "--irqs-per-device", "2", "--events", "2e3"]


def run(*args: str):
    return CliRunner().invoke(cli, ["synth", *args], catch_exceptions=False)


def test_writes_trace_and_labels_and_reports_json(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    r = run("-o", str(out), *ARGS, "--scenario", "lost-irq", "--seed", "3", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["events"] == open_trace(out).num_rows >= 2000
    assert summary["faults"] == pq.read_metadata(tmp_path / "t.labels.parquet").num_rows
    assert summary["api"] == "nova-2024" and summary["arch"] == "x86_64"


def test_human_summary_is_one_line(tmp_path: Path) -> None:
    r = run("-o", str(tmp_path / "t.parquet"), *ARGS, "--arch", "aarch64", "--api", "nova-2026")
    assert r.exit_code == 0
    assert len(r.output.strip().splitlines()) == 1 and "events" in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cpus", "0"], "--cpus 0 out of range"),
        (["--devices", "5000"], "--devices 5000 out of range"),
        (["--irqs-per-device", "65"], "--irqs-per-device 65 out of range"),
        (["--events", "10"], "--events 10 out of range"),
        (["--events", "lots"], "not a number"),
        (["--scenario", "chaos"], "--scenario 'chaos' unknown"),
        (["--scenario", "truncated"], "use --format ipc"),
    ],
)
def test_bad_options_are_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    r = CliRunner().invoke(cli, ["synth", "-o", str(tmp_path / "t.parquet"), *args])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.strip().splitlines() if ln]
    assert len(lines) == 1 and message in lines[0], r.output
    assert not (tmp_path / "t.parquet").exists()


def test_existing_output_needs_force_and_toml_config(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    out.write_bytes(b"x")
    assert run("-o", str(out), *ARGS).exit_code == 2
    cfg = tmp_path / "s.toml"
    cfg.write_text('scenario = "misroute"\n[faults]\nmisroute = 0.05\n[workload]\nw_storm = 1.0\n')
    r = run("-o", str(out), *ARGS, "--config", str(cfg), "--force", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["faults"] > 0
    bad = tmp_path / "bad.toml"
    bad.write_text("nonsense = 1\n")
    r = CliRunner().invoke(cli, ["synth", "-o", str(out), "--force", "--config", str(bad)])
    assert r.exit_code == 2 and "unknown key 'nonsense'" in r.output


def test_truncated_ipc_stream_reads_back_with_a_warning(tmp_path: Path) -> None:
    out = tmp_path / "t.arrows"
    r = run("-o", str(out), *ARGS, "--scenario", "truncated", "--format", "ipc", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    reader = open_trace(out)
    n = sum(b.n for b in reader.batches())
    assert n == summary["events"] and reader.warnings and "cut off" in reader.warnings[0]


def test_rings_format_imports_back(tmp_path: Path) -> None:
    out = tmp_path / "rings"
    assert run("-o", str(out), *ARGS, "--format", "rings", "--seed", "4").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["cpu0.ring", "cpu1.ring", "platform.json"]
    direct = tmp_path / "direct.parquet"
    assert run("-o", str(direct), *ARGS, "--seed", "4").exit_code == 0
    back = tmp_path / "back.parquet"
    rings = [str(out / "cpu0.ring"), str(out / "cpu1.ring")]
    r = CliRunner().invoke(cli, ["import", "rings", *rings, "--platform", str(out / "platform.json"), "-o", str(back)])
    assert r.exit_code == 0, r.output
    assert pl.read_parquet(back).equals(pl.read_parquet(direct))
