"""Every event kind survives Parquet and IPC stream round trips with its platform and metadata intact."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from tracefmt.events import Kind
from tracefmt.io import IPC_STREAM, PARQUET, TraceWriter, open_trace
from tracefmt.platform import example_arm, example_x86
from tracefmt.schema import COLUMNS

from helpers import HIGH_EC, one_of_every_kind


@pytest.mark.parametrize("suffix,container", [(".parquet", PARQUET), (".arrows", IPC_STREAM)])
@pytest.mark.parametrize("platform", [example_x86(cpus=4), example_arm(cpus=2, api="nova-2026")], ids=["x86", "arm"])
def test_every_kind_round_trips(tmp_path, suffix, container, platform):
    b = one_of_every_kind(platform)
    cols = b.columns()
    assert set(np.unique(cols["kind"])) == {int(k) for k in Kind}
    path = b.write(tmp_path / f"t{suffix}", strings=("first", "second"))

    r = open_trace(path)
    assert r.container == container
    assert r.platform == platform
    assert r.meta.strings == ("first", "second")
    assert r.meta.provenance["capture"]["source"] == "hand-built"
    assert r.meta.provenance["tool"]["name"] == "novatrace"
    got = r.read_all()
    for name in COLUMNS:
        col = getattr(got, name)
        assert col.dtype == COLUMNS[name], name
        np.testing.assert_array_equal(col, cols[name], err_msg=name)
    assert r.warnings == []


def test_kernel_addresses_are_bit_cast_int64(tmp_path):
    b = one_of_every_kind()
    path = b.write(tmp_path / "t.parquet")
    ec = open_trace(path).read_all().ec
    exits = open_trace(path).read_all().kind == int(Kind.HC_EXIT)
    # 0xffff8000... does not fit int64: it is stored as the same 64 bits, i.e. negative
    assert ec[exits][0] == HIGH_EC - (1 << 64)
    assert int(np.uint64(ec[exits][0].view(np.uint64))) == HIGH_EC


def test_parquet_layout(tmp_path):
    """zstd, delta-encoded timestamps, metadata in the footer, row groups of at most 2^20 rows."""
    b = one_of_every_kind()
    path = b.write(tmp_path / "t.parquet")
    md = pq.ParquetFile(path).metadata
    col = {md.row_group(0).column(i).path_in_schema: md.row_group(0).column(i) for i in range(md.num_columns)}
    assert col["ts"].compression == "ZSTD"
    assert "DELTA_BINARY_PACKED" in col["ts"].encodings
    assert b"novatrace.platform" in md.metadata


def test_writer_splits_rows_into_batches_and_row_groups(tmp_path):
    b = one_of_every_kind()
    cols = b.columns()
    n = len(cols["ts"])
    for suffix, kw in ((".arrows", {"stream_batch_rows": 7}), (".parquet", {"row_group_rows": 7})):
        path = tmp_path / f"split{suffix}"
        with TraceWriter(path, b.meta(), **kw) as w:
            for start in range(0, n, 5):  # writes of 5 rows regrouped into batches of 7
                w.write({k: v[start : start + 5] for k, v in cols.items()})
        r = open_trace(path)
        if suffix == ".parquet":
            md = pq.ParquetFile(path).metadata
            sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
        else:
            sizes = [batch.num_rows for batch in r.record_batches()]
        assert sum(sizes) == n
        assert all(s == 7 for s in sizes[:-1]) and 0 < sizes[-1] <= 7
        np.testing.assert_array_equal(r.read_all().a0, cols["a0"])


def test_empty_trace_is_valid(tmp_path):
    b = one_of_every_kind()
    for suffix in (".parquet", ".arrows"):
        path = tmp_path / f"empty{suffix}"
        with TraceWriter(path, b.meta()):
            pass
        r = open_trace(path)
        assert r.read_all().n == 0
        assert r.platform == b.platform


def test_scan_gives_a_lazy_frame(tmp_path):
    path = one_of_every_kind().write(tmp_path / "t.parquet")
    df = open_trace(path).scan().group_by("kind").len().collect()
    assert df.height == len(Kind)
