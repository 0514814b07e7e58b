"""Reading and writing traces: Parquet at rest, Arrow IPC streams in flight.

* Parquet: zstd, ~1M-row row groups, delta-encoded ``ts``/``seq``, metadata in the footer. Compact and
  fast, but a file cut off before its footer is lost - so captures are written as IPC streams.
* Arrow IPC stream (``.arrows``): record batches, each with custom metadata (batch number, first
  timestamp, row count, CRC-32 of its values). A stream cut off mid-batch still yields every complete
  batch, with a warning saying how much was lost; a batch whose values fail the CRC is an error (or, with
  ``salvage=True``, skipped with a warning).

Readers hand out :class:`~tracefmt.schema.EventBatch` numpy views, one record batch at a time, without
copying where Arrow allows it. The container is recognised by its magic bytes, not the file name.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from tracefmt.errors import CorruptTraceError, NotATraceError
from tracefmt.meta import TraceMeta, meta_from_schema, schema_with_meta
from tracefmt.platform import Platform
from tracefmt.schema import (
    ARROW_SCHEMA,
    BATCH_CRC,
    BATCH_FIRST_TS,
    BATCH_ROWS,
    BATCH_SEQ,
    BYTES_PER_EVENT,
    COLUMN_NAMES,
    EventBatch,
    batch_from_columns,
    batch_to_numpy,
    concat,
)

PARQUET = "parquet"
IPC_STREAM = "ipc-stream"
IPC_FILE = "ipc-file"

ROW_GROUP_ROWS = 1 << 20
STREAM_BATCH_ROWS = 1 << 16
_PARQUET_MAGIC = b"PAR1"
_IPC_STREAM_MAGIC = b"\xff\xff\xff\xff"
_IPC_FILE_MAGIC = b"ARROW1"


def batch_crc(batch: EventBatch) -> int:
    """CRC-32 over the logical values of every column, in schema order (not over Arrow buffers, which
    may be shared with a parent when sliced)."""
    crc = 0
    for col in batch:
        crc = zlib.crc32(np.ascontiguousarray(col).data, crc)
    return crc


def container_of(path: Path) -> str:
    """Which container a file is, from its first bytes; NotATraceError if none."""
    where = str(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        raise NotATraceError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise NotATraceError(f"{where}: is a directory, not a trace file") from None
    except PermissionError:
        raise NotATraceError(f"{where}: permission denied") from None
    if not head:
        raise NotATraceError(f"{where}: empty file")
    if head.startswith(_PARQUET_MAGIC):
        return PARQUET
    if head.startswith(_IPC_FILE_MAGIC):
        return IPC_FILE
    if head.startswith(_IPC_STREAM_MAGIC):
        return IPC_STREAM
    raise NotATraceError(f"{where}: not a trace (neither Parquet nor an Arrow IPC stream)")


def container_for_name(path: Path) -> str:
    """Container to write, from the file name: ``.parquet``/``.pq`` or ``.arrows``/``.arrow``."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return PARQUET
    if suffix in (".arrows", ".arrow", ".ipc"):
        return IPC_STREAM
    raise NotATraceError(f"{path}: unknown output type {suffix or '(no suffix)'!r}; use .parquet or .arrows")


# --- reading -------------------------------------------------------------------------------------------------


class TraceReader:
    """An opened trace: metadata at once, events on demand in batches.

    ``warnings`` collects one-line notes about salvaged data (truncation, skipped corrupt batches); they are
    complete once :meth:`batches` has been exhausted.
    """

    def __init__(self, path: str | os.PathLike[str], *, salvage: bool = False) -> None:
        self.path = Path(path)
        self.where = str(path)
        self.salvage = salvage
        self.container = container_of(self.path)
        self.warnings: list[str] = []
        self.lost_bytes = 0
        self.skipped_batches = 0
        self._pf: pq.ParquetFile | None = None
        try:
            if self.container == PARQUET:
                self._pf = pq.ParquetFile(self.path)
                schema = self._pf.schema_arrow
            elif self.container == IPC_FILE:
                schema = pa.ipc.open_file(pa.memory_map(str(self.path))).schema
            else:
                with pa.memory_map(str(self.path)) as src:
                    schema = pa.ipc.open_stream(src).schema
        except (pa.ArrowException, OSError, ValueError) as e:
            raise NotATraceError(f"{self.where}: cannot read {self.container} header ({_one_line(e)})") from None
        self.meta: TraceMeta = meta_from_schema(schema, self.where)

    @property
    def platform(self) -> Platform:
        return self.meta.platform

    @property
    def num_rows(self) -> int | None:
        """Rows in the file if known without reading it (Parquet), else None."""
        return self._pf.metadata.num_rows if self._pf is not None else None

    def record_batches(self, batch_rows: int | None = None) -> Iterator[pa.RecordBatch]:
        """Arrow record batches in file order (IPC: as written, after CRC checks)."""
        try:
            if self._pf is not None:
                # threaded decode: 13-17M vs 9-15M events/s single-threaded on the quiet 2-core machine (2026-11-25;
                # under heavy load from other processes single-threaded had measured faster)
                yield from self._pf.iter_batches(
                    batch_size=batch_rows or ROW_GROUP_ROWS, columns=list(COLUMN_NAMES), use_threads=True
                )
            elif self.container == IPC_FILE:
                reader = pa.ipc.open_file(pa.memory_map(str(self.path)))
                for i in range(reader.num_record_batches):
                    yield reader.get_batch(i).select(list(COLUMN_NAMES))
            else:
                yield from self._stream_batches()
        except (pa.ArrowException, OSError) as e:
            raise CorruptTraceError(f"{self.where}: cannot decode data ({_one_line(e)})") from None

    def batches(self, batch_rows: int | None = None) -> Iterator[EventBatch]:
        """Events as numpy views, one record batch at a time."""
        for rb in self.record_batches(batch_rows):
            yield batch_to_numpy(rb)

    def read_all(self) -> EventBatch:
        """All events in memory (copies batches together)."""
        return concat(list(self.batches()))

    def table(self) -> pa.Table:
        return pa.Table.from_batches(list(self.record_batches()), schema=ARROW_SCHEMA)

    def scan(self) -> pl.LazyFrame:
        """A polars LazyFrame over the events; streaming for Parquet, in memory for IPC streams."""
        if self.container == PARQUET:
            return pl.scan_parquet(self.path)
        return pl.from_arrow(self.table()).lazy()  # type: ignore[union-attr]

    def _stream_batches(self) -> Iterator[pa.RecordBatch]:
        size = self.path.stat().st_size
        with pa.memory_map(str(self.path)) as src:
            reader = pa.ipc.open_stream(src)
            expect_seq = 0
            index = 0
            while True:
                start = src.tell()
                try:
                    rb, custom = reader.read_next_batch_with_custom_metadata()
                except StopIteration:
                    return
                except (pa.ArrowException, OSError, ValueError) as e:
                    self.lost_bytes = size - start
                    est = max(1, self.lost_bytes // (BYTES_PER_EVENT + 8))
                    self.warnings.append(
                        f"{self.where}: stream cut off after batch {index} at byte {start}: {self.lost_bytes} "
                        f"trailing bytes (about {est} events of an incomplete batch) lost ({_one_line(e)})"
                    )
                    return
                problem = _check_stream_batch(rb, custom, expect_seq)
                if problem:
                    msg = f"{self.where}: batch {index} (byte {start}): {problem}"
                    if not self.salvage:
                        raise CorruptTraceError(msg + "; use --salvage to skip corrupt batches")
                    self.skipped_batches += 1
                    self.warnings.append(msg + f"; skipped its {rb.num_rows} events")
                else:
                    yield rb
                expect_seq = _batch_seq(custom, expect_seq) + 1
                index += 1


def _batch_seq(custom: Any, default: int) -> int:
    try:
        return int(custom[BATCH_SEQ])
    except (TypeError, KeyError, ValueError):
        return default


def _check_stream_batch(rb: pa.RecordBatch, custom: Any, expect_seq: int) -> str:
    """Empty string if the batch matches its own metadata, else what is wrong."""
    if rb.schema.remove_metadata() != ARROW_SCHEMA:
        return "schema differs from the stream's event schema"
    if custom is None or BATCH_CRC not in custom:
        return "batch metadata (checksum) missing"
    try:
        rows = int(custom[BATCH_ROWS])
        crc = int(custom[BATCH_CRC])
    except (KeyError, ValueError):
        return "batch metadata unreadable"
    if rows != rb.num_rows:
        return f"holds {rb.num_rows} rows, its metadata says {rows}"
    events = batch_to_numpy(rb)
    actual = batch_crc(events)
    if actual != crc:
        return f"checksum mismatch (stored {crc:#010x}, computed {actual:#010x}): data corrupted"
    return ""


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:200]


def open_trace(path: str | os.PathLike[str], *, salvage: bool = False) -> TraceReader:
    """Open a trace file (Parquet, Arrow IPC stream or IPC file) and check its metadata."""
    return TraceReader(path, salvage=salvage)


# --- writing -------------------------------------------------------------------------------------------------


class TraceWriter:
    """Incremental writer; the container follows the file name (``.parquet`` or ``.arrows``).

    Rows must already be in (ts, cpu, seq) order; the writer does not sort. IPC streams are written batch by
    batch and flushed, so a crash loses at most the batch being written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        meta: TraceMeta,
        *,
        container: str | None = None,
        stream_batch_rows: int = STREAM_BATCH_ROWS,
        row_group_rows: int = ROW_GROUP_ROWS,
    ) -> None:
        self.path = Path(path)
        self.meta = meta
        self.container = container or container_for_name(self.path)
        self.schema = schema_with_meta(meta)
        self.rows = 0
        self._batches = 0
        self._stream_batch_rows = stream_batch_rows
        self._row_group_rows = row_group_rows
        self._pending: list[EventBatch] = []
        self._pending_rows = 0
        if self.container == PARQUET:
            self._pq = pq.ParquetWriter(
                self.path,
                self.schema,
                compression="zstd",
                compression_level=3,
                use_dictionary=["cpu", "kind", "hc"],
                column_encoding={"ts": "DELTA_BINARY_PACKED", "seq": "DELTA_BINARY_PACKED"},
                write_statistics=["ts", "cpu", "kind", "hc"],
            )
        elif self.container == IPC_STREAM:
            self._sink = pa.OSFile(str(self.path), "wb")
            self._ipc = pa.ipc.new_stream(self._sink, self.schema)
        else:
            raise ValueError(f"cannot write container {self.container!r}")

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, events: EventBatch | dict[str, np.ndarray] | pa.RecordBatch) -> None:
        """Append events (numpy columns, an EventBatch or a record batch with the event schema)."""
        if isinstance(events, pa.RecordBatch):
            events = batch_to_numpy(events)
        elif isinstance(events, dict):
            events = batch_to_numpy(batch_from_columns(events))
        if events.n == 0:
            return
        self._pending.append(events)
        self._pending_rows += events.n
        target = self._row_group_rows if self.container == PARQUET else self._stream_batch_rows
        if self._pending_rows >= target:
            self._flush(target)

    def _flush(self, target: int, final: bool = False) -> None:
        if not self._pending:
            return
        merged = self._pending[0] if len(self._pending) == 1 else concat(self._pending)
        self._pending, self._pending_rows = [], 0
        start = 0
        while merged.n - start >= target or (final and start < merged.n):
            part = merged.slice(start, min(start + target, merged.n))
            self._emit(part)
            start += part.n
        if start < merged.n:
            rest = merged.slice(start, merged.n)
            self._pending, self._pending_rows = [rest], rest.n

    def _emit(self, part: EventBatch) -> None:
        rb = batch_from_columns(part)
        if self.container == PARQUET:
            self._pq.write_batch(rb, row_group_size=self._row_group_rows)
        else:
            custom = {
                BATCH_SEQ: str(self._batches),
                BATCH_FIRST_TS: str(int(part.ts[0])),
                BATCH_ROWS: str(part.n),
                BATCH_CRC: str(batch_crc(part)),
            }
            self._ipc.write_batch(rb, custom_metadata=custom)
            self._sink.flush()
        self._batches += 1
        self.rows += part.n

    def close(self) -> None:
        """Write what is buffered and finish the file (Parquet footer / stream end marker)."""
        target = self._row_group_rows if self.container == PARQUET else self._stream_batch_rows
        self._flush(target, final=True)
        if self.container == PARQUET:
            if self._pq is not None:
                self._pq.close()
                self._pq = None
        elif self._ipc is not None:
            self._ipc.close()
            self._sink.close()
            self._ipc = None


def write_trace(
    path: str | os.PathLike[str], meta: TraceMeta, events: EventBatch | dict[str, np.ndarray], **kw: Any
) -> Path:
    """Write a whole in-memory trace at once."""
    with TraceWriter(path, meta, **kw) as w:
        w.write(events)
    return Path(path)
