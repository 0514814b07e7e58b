"""The event table: column names, their fixed-width types, and numpy views of Arrow batches.

Columns are non-nullable fixed-width integers so every column of a record batch converts to a numpy
array without copying. Identities, addresses, timestamps and sequence numbers are int64: numba silently
wraps when uint64 and int64 mix, so raw 64-bit values are bit-cast (``np.uint64(x).view(np.int64)``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa

FORMAT_NAME = "novatrace"
FORMAT_VERSION = 1  # bump on any incompatible change of columns, kinds or metadata

# name -> numpy dtype; the order is the on-disk column order
COLUMNS: dict[str, np.dtype] = {
    "ts": np.dtype(np.int64),  # STC ticks (x86 TSC, Arm CNTVCT); platform.stc_hz converts to seconds
    "cpu": np.dtype(np.int16),  # CPU that recorded the event
    "seq": np.dtype(np.int64),  # per-CPU record sequence number, +1 per record written or dropped
    "kind": np.dtype(np.uint8),  # tracefmt.events.Kind
    "hc": np.dtype(np.uint8),  # tracefmt.nova.Hc for hypercall events, Hc.NONE (255) otherwise
    "ec": np.dtype(np.int64),  # EC current on that CPU (kernel id; meaning per kind in FORMAT.md)
    "a0": np.dtype(np.int64),
    "a1": np.dtype(np.int64),
    "a2": np.dtype(np.int64),
    "a3": np.dtype(np.int64),
    "a4": np.dtype(np.int64),
}
COLUMN_NAMES: tuple[str, ...] = tuple(COLUMNS)
ARG_COLUMNS: tuple[str, ...] = ("a0", "a1", "a2", "a3", "a4")
SORT_KEY: tuple[str, ...] = ("ts", "cpu", "seq")
BYTES_PER_EVENT = sum(dt.itemsize for dt in COLUMNS.values())

ARROW_SCHEMA = pa.schema([pa.field(n, pa.from_numpy_dtype(dt), nullable=False) for n, dt in COLUMNS.items()])

# Metadata keys (Parquet key-value metadata and Arrow schema metadata); values are JSON text.
META_FORMAT = b"novatrace.format"  # {"name": "novatrace", "version": 1}
META_PLATFORM = b"novatrace.platform"  # tracefmt.platform.Platform.to_json()
META_PROVENANCE = b"novatrace.provenance"  # {"capture": {...}, "tool": {...}}
META_STRINGS = b"novatrace.strings"  # ["name", ...]; MARKER a3 indexes it
META_KINDS = b"novatrace.kinds"  # {"0": "HC_ENTRY", ...} so foreign tools can label kinds
# Per-batch custom metadata in IPC streams
BATCH_SEQ = b"novatrace.batch"
BATCH_FIRST_TS = b"novatrace.first_ts"
BATCH_ROWS = b"novatrace.rows"
BATCH_CRC = b"novatrace.crc32"


class EventBatch(NamedTuple):
    """One contiguous run of events as numpy arrays (views into Arrow buffers where possible).

    Arrays from Arrow are read-only; kernels must not write to them.
    """

    ts: np.ndarray
    cpu: np.ndarray
    seq: np.ndarray
    kind: np.ndarray
    hc: np.ndarray
    ec: np.ndarray
    a0: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    a3: np.ndarray
    a4: np.ndarray

    @property
    def n(self) -> int:
        """Number of events (``len()`` of a NamedTuple is its field count, so use this)."""
        return len(self.ts)

    def slice(self, start: int, stop: int) -> EventBatch:
        return EventBatch(*(col[start:stop] for col in self))


def empty_columns(n: int) -> dict[str, np.ndarray]:
    """Zeroed, writable columns for ``n`` events (``hc`` pre-set to Hc.NONE)."""
    cols = {name: np.zeros(n, dtype=dt) for name, dt in COLUMNS.items()}
    cols["hc"][:] = 255
    return cols


def batch_from_columns(cols: dict[str, np.ndarray] | EventBatch) -> pa.RecordBatch:
    """Build a record batch with the exact schema; casts safely and fails loudly on overflow."""
    if isinstance(cols, EventBatch):
        cols = cols._asdict()
    missing = [n for n in COLUMN_NAMES if n not in cols]
    if missing:
        raise ValueError(f"event columns missing: {', '.join(missing)}")
    arrays = []
    for name, dt in COLUMNS.items():
        col = np.asarray(cols[name])
        if col.dtype != dt:
            if not np.can_cast(col.dtype, dt, casting="same_kind") and col.size:
                raise ValueError(f"column {name}: dtype {col.dtype} does not fit {dt}")
            cast = col.astype(dt)
            if col.size and not np.array_equal(cast.astype(col.dtype), col):
                raise ValueError(f"column {name}: values out of range for {dt}")
            col = cast
        arrays.append(pa.array(col, type=ARROW_SCHEMA.field(name).type))
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        raise ValueError(f"event columns have different lengths: {sorted(lengths)}")
    return pa.RecordBatch.from_arrays(arrays, schema=ARROW_SCHEMA)


def batch_to_numpy(batch: pa.RecordBatch) -> EventBatch:
    """Numpy views of one record batch (zero-copy for our non-null fixed-width columns)."""
    out = []
    for name, dt in COLUMNS.items():
        arr = batch.column(name)
        try:
            col = arr.to_numpy(zero_copy_only=True)
        except (pa.ArrowInvalid, NotImplementedError):
            col = arr.to_numpy(zero_copy_only=False)
        if col.dtype != dt:
            col = col.astype(dt)
        out.append(col)
    return EventBatch(*out)


def concat(batches: list[EventBatch]) -> EventBatch:
    """One EventBatch from several (copies)."""
    if not batches:
        return EventBatch(*(np.zeros(0, dtype=dt) for dt in COLUMNS.values()))
    return EventBatch(*(np.concatenate(cols) for cols in zip(*batches, strict=True)))
