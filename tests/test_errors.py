"""Bad input gives the documented one-line error (FORMAT.md section 7), never a traceback."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli.main import main
from tracefmt.errors import NotATraceError, PlatformError, TraceValidationError, VersionError
from tracefmt.io import open_trace, write_trace
from tracefmt.schema import META_FORMAT, META_PLATFORM
from tracefmt.validate import check

from helpers import one_of_every_kind


def _one_line(msg: str) -> bool:
    return "\n" not in msg.strip() and "Traceback" not in msg


@pytest.fixture
def good(tmp_path):
    return one_of_every_kind().write(tmp_path / "good.parquet")


def _rewrite_metadata(path, out, replace):
    table = pq.read_table(path)
    md = dict(table.schema.metadata)
    md.update(replace)
    pq.write_table(table.replace_schema_metadata(md), out)
    return out


def test_missing_file(tmp_path):
    with pytest.raises(NotATraceError, match=r"nope\.parquet: no such file$"):
        open_trace(tmp_path / "nope.parquet")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.parquet"
    p.write_bytes(b"")
    with pytest.raises(NotATraceError, match="empty.parquet: empty file"):
        open_trace(p)


def test_garbage_file(tmp_path):
    p = tmp_path / "garbage.parquet"
    p.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(NotATraceError, match="garbage.parquet: not a trace"):
        open_trace(p)


def test_truncated_parquet(tmp_path, good):
    p = tmp_path / "cut.parquet"
    p.write_bytes(good.read_bytes()[:200])
    with pytest.raises(NotATraceError, match="cut.parquet: cannot read parquet header"):
        open_trace(p)


def test_foreign_parquet(tmp_path):
    p = tmp_path / "foreign.parquet"
    pl.DataFrame({"x": [1, 2, 3]}).write_parquet(p)
    with pytest.raises(NotATraceError, match="foreign.parquet: not a novatrace trace"):
        open_trace(p)


def test_foreign_arrow_stream(tmp_path):
    p = tmp_path / "foreign.arrows"
    with pa.OSFile(str(p), "wb") as f, pa.ipc.new_stream(f, pa.schema([("x", pa.int64())])) as w:
        w.write_batch(pa.record_batch([pa.array([1])], names=["x"]))
    with pytest.raises(NotATraceError, match="foreign.arrows: not a novatrace trace"):
        open_trace(p)


@pytest.mark.parametrize("version,word", [(2, "newer"), (0, "older")])
def test_wrong_format_version(tmp_path, good, version, word):
    p = _rewrite_metadata(
        good, tmp_path / "v.parquet", {META_FORMAT: json.dumps({"name": "novatrace", "version": version})}
    )
    with pytest.raises(VersionError, match=f"v.parquet: trace format version {version} is {word}"):
        open_trace(p)


def test_missing_platform(tmp_path, good):
    table = pq.read_table(good)
    md = {k: v for k, v in table.schema.metadata.items() if k != META_PLATFORM}
    p = tmp_path / "noplat.parquet"
    pq.write_table(table.replace_schema_metadata(md), p)
    with pytest.raises(PlatformError, match="noplat.parquet: platform description missing"):
        open_trace(p)


def test_inconsistent_platform(tmp_path, good):
    plat = json.loads(pq.read_schema(good).metadata[META_PLATFORM])
    plat["arm"] = {"gic_version": 3}
    p = _rewrite_metadata(good, tmp_path / "p.parquet", {META_PLATFORM: json.dumps(plat)})
    with pytest.raises(PlatformError, match="needs an 'x86' interrupt section and no 'arm' section"):
        open_trace(p)


def test_wrong_column_type(tmp_path, good):
    table = pq.read_table(good)
    table = table.set_column(1, "cpu", table.column("cpu").cast(pa.int64()))
    p = tmp_path / "t.parquet"
    pq.write_table(table, p)
    with pytest.raises(NotATraceError, match="column 'cpu' has type int64, expected int16"):
        open_trace(p)


def _write_cols(tmp_path, name, mutate):
    b = one_of_every_kind()
    cols = b.columns()
    mutate(cols)
    return write_trace(tmp_path / name, b.meta(), cols)


def test_unsorted_rows(tmp_path):
    def swap(cols):
        for v in cols.values():
            v[[3, 4]] = v[[4, 3]]

    p = _write_cols(tmp_path, "unsorted.parquet", swap)
    r = open_trace(p)
    report = check(r.batches(), r.platform, str(p))
    assert not report.ok
    assert report.errors[0].startswith(f"{p}: row 4: rows not sorted by (ts, cpu, seq)")
    with pytest.raises(TraceValidationError) as e:
        report.raise_first()
    assert _one_line(str(e.value))


def test_unknown_kind(tmp_path):
    def bad_kind(cols):
        cols["kind"][5] = 200

    p = _write_cols(tmp_path, "kind.parquet", bad_kind)
    r = open_trace(p)
    report = check(r.batches(), r.platform, str(p))
    assert report.errors == [f"{p}: row 5: unknown event kind 200 (known: 0..19)"]


def test_cpu_out_of_range_and_bad_enum(tmp_path):
    def bad(cols):
        cols["cpu"][2] = 9
        irq = np.flatnonzero(cols["kind"] == 3)[0]  # IRQ_MASK: a2 = cause
        cols["a2"][irq] = 77

    p = _write_cols(tmp_path, "bad.parquet", bad)
    r = open_trace(p)
    errors = check(r.batches(), r.platform, str(p)).errors
    assert any("row 2: CPU 9 out of range (platform has 4)" in e for e in errors)
    assert any("IRQ_MASK: cause 77 is not a IrqCause" in e for e in errors)


def test_hc_must_match_raw_registers(tmp_path):
    def bad(cols):
        cols["hc"][0] = 3  # HC_ENTRY of ctrl_sm claims to be create_ec

    p = _write_cols(tmp_path, "hc.parquet", bad)
    r = open_trace(p)
    errors = check(r.batches(), r.platform, str(p)).errors
    assert errors == [
        f"{p}: row 0: HC_ENTRY: hc 3 does not match the raw hypercall number under nova-2024 (expected 12)"
    ]


# --- the CLI turns all of these into one line on stderr and a non-zero exit


@pytest.mark.parametrize("cmd", ["info", "validate"])
def test_cli_user_errors_are_one_line_exit_2(tmp_path, capsys, cmd):
    p = tmp_path / "x.parquet"
    p.write_bytes(b"not a trace at all")
    assert main([cmd, str(p)]) == 2
    err = capsys.readouterr().err
    assert err == f"novatrace: error: {p}: not a trace (neither Parquet nor an Arrow IPC stream)\n"
    assert main([cmd, str(tmp_path / "missing.parquet")]) == 2
    assert capsys.readouterr().err.strip().endswith("missing.parquet: no such file")


def test_cli_validate_exit_1_on_invalid_rows(tmp_path, capsys):
    def swap(cols):
        for v in cols.values():
            v[[3, 4]] = v[[4, 3]]

    p = _write_cols(tmp_path, "unsorted.parquet", swap)
    assert main(["validate", str(p)]) == 1
    out = capsys.readouterr()
    assert f"{p}: row 4: rows not sorted" in out.err
    assert "INVALID" in out.out


def test_cli_bad_option_is_one_line(capsys):
    assert main(["info", "--bogus", "x"]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and "No such option" in err
