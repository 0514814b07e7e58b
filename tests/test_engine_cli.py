"""``novatrace replay``: exit codes, JSON, the human summary, --full, --model, --limit, input errors."""

from __future__ import annotations

import json

import pytest
from test_reference_support import ROOT_PD, Trace, x86

from cli.main import main
from tracefmt.nova import Hc, Status

SAMPLE = "sample_traces/x86-tiny.parquet"


@pytest.fixture
def divergent(tmp_path):
    """A booted trace whose create_sm exit was recorded twice (one UNEXPECTED_EXIT)."""
    t = Trace(x86())
    t.create(Hc.CREATE_SM, 0x100, p1=ROOT_PD, p2=0)
    t.b.hc_exit(0, t.ec, Hc.CREATE_SM, Status.SUCCESS)
    return t.b.write(tmp_path / "dup.parquet")


def test_sample_with_only_info_findings_exits_0(capsys):
    assert main(["replay", "--json", SAMPLE]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["events"] == 261 and s["api"] == "nova-2024" and s["model"] == "numba engine"
    assert s["findings_by_code"] == {"TRACE_GAP/TRACE_LOSS": 1}
    assert s["findings"][0]["severity"] == "INFO" and s["findings"][0]["event"] == 248
    assert "UNEXPECTED_EXIT" in s["checked"]["rules"]
    # a claimed rule narrower than the reference's says its scope, so nobody takes it for the full check
    assert "WORD_MISMATCH (only SM_UP woken of x86 nova-2024 interrupt ups)" in s["checked"]["rules"]


def test_a_divergence_exits_1_and_is_listed(divergent, capsys):
    assert main(["replay", str(divergent)]) == 1
    out = capsys.readouterr().out
    assert "UNEXPECTED_EXIT" in out and "not in a hypercall" in out and "events replayed" in out


def test_limit_bounds_the_list_not_the_counts(divergent, capsys):
    assert main(["replay", "--json", "--limit", "0", str(divergent)]) == 1
    s = json.loads(capsys.readouterr().out)
    assert s["findings"] == [] and s["findings_total"] == 1


def test_full_runs_the_reference_model(divergent, capsys):
    assert main(["replay", "--json", "--full", str(divergent)]) == 1
    s = json.loads(capsys.readouterr().out)
    assert s["model"].startswith("reference") and s["findings_by_code"] == {"UNEXPECTED_EXIT/KERNEL": 1}


def test_model_override_replays_under_the_other_generation(capsys):
    assert main(["replay", "--json", "--model", "nova-2026", SAMPLE]) == 1  # numbers mean other calls there
    s = json.loads(capsys.readouterr().out)
    assert s["api"] == "nova-2026" and "MISSING_EXIT/TRACE_LOSS" in s["findings_by_code"]


def test_input_errors_are_one_line_exit_2(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope.parquet")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]
    assert main(["replay", "--model", "nova-1999", SAMPLE]) == 2
