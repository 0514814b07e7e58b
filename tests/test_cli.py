"""The info / validate / convert commands: JSON output, exit codes, streaming conversion."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli.main import main
from tracefmt.builder import TraceBuilder
from tracefmt.events import Kind
from tracefmt.io import TraceWriter, open_trace
from tracefmt.platform import example_x86

from helpers import one_of_every_kind


@pytest.fixture
def trace(tmp_path):
    b = TraceBuilder(example_x86(cpus=2), start_ts=1000, tick=1000)
    for i in range(10):
        b.event(i % 2, Kind.MARKER, marker=0, string=-1)
    b.skip_seq(0, 2)
    b.event(0, Kind.RECORDER_LOSS, lost=2, first_seq=b.seq[0] - 2)
    return b.write(tmp_path / "t.arrows")


def test_info_json(trace, capsys):
    assert main(["info", "--json", str(trace)]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["events"] == 11 and s["container"] == "ipc-stream"
    assert s["per_kind"] == {"MARKER": 10, "RECORDER_LOSS": 1}
    assert s["per_cpu"] == {"0": 6, "1": 5}
    assert s["duration_s"] == pytest.approx(10_000 / 2e9)
    assert s["loss"]["lost_records"] == 2 and s["loss"]["unrecorded_gaps"] == 0
    assert s["platform"]["arch"] == "x86_64"


def test_info_human_output(trace, capsys):
    assert main(["info", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "x86_64, 2 CPUs" in out and "MARKER" in out and "2 records in 1 gap(s)" in out


def test_validate_json(trace, capsys):
    assert main(["validate", "--json", str(trace)]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v["valid"] and v["errors"] == [] and v["losses"][0]["count"] == 2


@pytest.mark.parametrize("out_name", ["t.parquet", "t2.arrows"])
def test_convert_round_trip(trace, tmp_path, capsys, out_name):
    out = tmp_path / out_name
    assert main(["convert", "--json", str(trace), str(out)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["events"] == 11
    a, b = open_trace(trace), open_trace(out)
    assert a.meta == b.meta or (a.platform == b.platform and a.meta.strings == b.meta.strings)
    for x, y in zip(a.read_all(), b.read_all(), strict=True):
        np.testing.assert_array_equal(x, y)


def test_convert_refuses_to_overwrite(trace, tmp_path, capsys):
    out = tmp_path / "exists.parquet"
    out.write_bytes(b"precious")
    assert main(["convert", str(trace), str(out)]) == 2
    assert "already exists (use --force to overwrite)" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"


def test_convert_unknown_suffix(trace, tmp_path, capsys):
    assert main(["convert", str(trace), str(tmp_path / "x.csv")]) == 2
    assert "unknown output type '.csv'" in capsys.readouterr().err


def test_unwritable_output_is_one_line_not_a_traceback(trace, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "dir" / "x.arrows"
    assert main(["convert", str(trace), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("novatrace: error: ") and "Traceback" not in err
    assert "x.arrows" in err and not out.parent.exists()


def test_convert_truncated_capture_keeps_complete_batches(tmp_path, capsys):
    b = one_of_every_kind()
    src = tmp_path / "cap.arrows"
    with TraceWriter(src, b.meta(), stream_batch_rows=4) as w:
        w.write(b.columns())
    data = src.read_bytes()
    src.write_bytes(data[: len(data) - 30])
    out = tmp_path / "cap.parquet"
    assert main(["convert", str(src), str(out)]) == 0
    captured = capsys.readouterr()
    assert "stream cut off after batch" in captured.err
    n = open_trace(out).read_all().n
    assert n == (len(b.rows) - 1) // 4 * 4


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert "trace format 1" in capsys.readouterr().out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for cmd in ("info", "validate", "convert"):
        assert cmd in out
    assert main(["convert", "--help"]) == 0
    assert "Example" in capsys.readouterr().out


def test_info_does_not_call_console_line_numbers_a_duration(tmp_path, capsys):
    b = TraceBuilder(example_x86(cpus=1), start_ts=1, tick=1)
    for _ in range(3):
        b.event(0, Kind.MARKER, marker=0, string=-1)
    p = b.write(tmp_path / "c.parquet", provenance={"capture": {"source": "console", "ts_unit": "line"}})
    assert main(["info", "--json", str(p)]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["ts_unit"] == "line" and s["duration_s"] is None
    assert main(["info", str(p)]) == 0
    assert "ts counts lines, not time (span 2)" in capsys.readouterr().out
