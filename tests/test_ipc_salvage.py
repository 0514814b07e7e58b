"""A capture stream cut off by a crash still yields every complete batch; corruption is detected."""

from __future__ import annotations

import numpy as np
import pytest

from tracefmt.errors import CorruptTraceError, NotATraceError
from tracefmt.io import TraceWriter, open_trace

from helpers import one_of_every_kind


def _stream(tmp_path, batch_rows=8):
    b = one_of_every_kind()
    cols = b.columns()
    path = tmp_path / "cap.arrows"
    with TraceWriter(path, b.meta(), stream_batch_rows=batch_rows) as w:
        w.write(cols)
    return path, cols


def test_truncated_stream_salvages_all_complete_batches(tmp_path):
    path, cols = _stream(tmp_path)
    data = path.read_bytes()
    total = len(cols["ts"])
    full_batches = -(-total // 8)
    # cut inside the last batch, at many offsets
    last_start = data.rfind(b"\xff\xff\xff\xff", 0, len(data) - 8)
    for cut in range(last_start + 1, len(data) - 8, 37):
        p = tmp_path / "cut.arrows"
        p.write_bytes(data[:cut])
        r = open_trace(p)
        got = r.read_all()
        assert got.n == (full_batches - 1) * 8
        np.testing.assert_array_equal(got.seq, cols["seq"][: got.n])
        assert len(r.warnings) == 1
        assert f"stream cut off after batch {full_batches - 1}" in r.warnings[0]
        assert "lost" in r.warnings[0]


def test_stream_without_end_marker_reads_fully(tmp_path):
    """A capture that stopped between batches (no end-of-stream marker) loses nothing."""
    path, cols = _stream(tmp_path)
    data = path.read_bytes()
    assert data.endswith(b"\xff\xff\xff\xff\x00\x00\x00\x00")
    p = tmp_path / "noeos.arrows"
    p.write_bytes(data[:-8])
    r = open_trace(p)
    assert r.read_all().n == len(cols["ts"])
    assert r.warnings == []


def test_cut_inside_the_header_is_not_a_trace(tmp_path):
    path, _ = _stream(tmp_path)
    p = tmp_path / "head.arrows"
    p.write_bytes(path.read_bytes()[:40])
    with pytest.raises(NotATraceError, match="head.arrows: cannot read ipc-stream header"):
        open_trace(p)


def _flip_in_last_batch_body(path, cols):
    """Flip one bit inside the stored bytes of the last row's a4 value (a unique 8-byte pattern)."""
    data = bytearray(path.read_bytes())
    pattern = cols["a4"][-1:].tobytes()
    at = data.rfind(pattern)
    assert at > 0 and data.count(pattern) == 1
    data[at + 2] ^= 0x40
    path.write_bytes(bytes(data))


def test_corrupted_batch_is_detected(tmp_path):
    path, cols = _stream(tmp_path)
    _flip_in_last_batch_body(path, cols)
    with pytest.raises(CorruptTraceError, match=r"cap.arrows: batch \d+ \(byte \d+\): checksum mismatch"):
        open_trace(path).read_all()


def test_salvage_skips_the_corrupted_batch_with_a_warning(tmp_path):
    path, cols = _stream(tmp_path)
    _flip_in_last_batch_body(path, cols)
    r = open_trace(path, salvage=True)
    got = r.read_all()
    total = len(cols["ts"])
    assert got.n == total - (total % 8 or 8)
    assert r.skipped_batches == 1
    assert "checksum mismatch" in r.warnings[0] and "skipped" in r.warnings[0]
