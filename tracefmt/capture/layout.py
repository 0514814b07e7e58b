"""The recorder's per-CPU ring buffer as numpy dtypes: the Python side of ``tracefmt/recorder.h``.

These dtypes are the one source of truth for the binary layout in Python; ``tests/test_capture_layout.py``
compiles recorder.h with gcc and checks every size, offset and constant against them (FORMAT.md section 8).

A ring dump is a 128-byte header followed by ``capacity`` records of ``record_size`` bytes (72 in version 1),
all little-endian. Several rings may follow each other in one file (a dump of the whole per-CPU area).

A record is whole when its first word (``stamp``, stored first) and its last word (``commit``, stored last)
agree: ``commit == ~(stamp << 8 | kind)``. A slot the recorder was writing when the machine stopped, or one
that still holds zeroes, fails the check and is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracefmt.errors import CorruptTraceError, NotATraceError, VersionError

RING_MAGIC = 0x5254564E  # b"NVTR" little-endian
RING_VERSION = 1
HEADER_SIZE = 128
RECORD_SIZE = 72
SEQ_BITS = 56  # sequence numbers live in commit bits 63:8
SEQ_MASK = (1 << SEQ_BITS) - 1
MAX_CAPACITY = 1 << 40  # sanity bound for a header read from a dump

MODE_OVERWRITE = 0  # flight recorder: the oldest record is overwritten, nothing is dropped
MODE_DROP = 1  # the newest record is dropped (and counted) while the ring is full
MODE_NAMES = {MODE_OVERWRITE: "overwrite", MODE_DROP: "drop"}
FLAG_FROZEN = 0x1  # a dumper stopped the recorder: every record is dropped (and counted) meanwhile

_U64 = np.dtype("<u8")
_I64 = np.dtype("<i8")

HEADER_DTYPE = np.dtype(
    [
        ("magic", "<u4"),
        ("version", "<u2"),
        ("header_size", "<u2"),
        ("record_size", "<u2"),
        ("cpu", "<u2"),
        ("mode", "<u2"),
        ("flags", "<u2"),
        ("stc_hz", _U64),
        ("capacity", _U64),  # record slots
        ("write_pos", _U64),  # slot of the next record, 0 .. capacity-1
        ("wrap_count", _U64),  # times write_pos went from capacity-1 back to 0
        ("dropped", _U64),  # records dropped since the ring was set up (monotonic)
        ("next_seq", _U64),  # sequence number the next record (written or dropped) gets
        ("base_seq", _U64),  # sequence number of the first record of this ring
        ("read_pos", _U64),  # MODE_DROP: records a consumer has taken (total); 0 without a consumer
        ("lost_pending", _U64),  # dropped records no RECORDER_LOSS record covers yet
        ("lost_first_seq", _U64),  # .. their first sequence number
        ("lost_first_ts", _I64),  # .. STC time of the first and the last of them
        ("lost_last_ts", _I64),
        ("reserved0", _U64),
        ("reserved1", _U64),
    ]
)

RECORD_DTYPE = np.dtype(
    [
        ("stamp", _U64),  # sequence number, stored first
        ("ts", _I64),  # STC ticks
        ("ec", _I64),
        ("a0", _I64),
        ("a1", _I64),
        ("a2", _I64),
        ("a3", _I64),
        ("a4", _I64),
        ("commit", _U64),  # ~(seq << 8 | kind), stored last
    ]
)
RECORD_WORDS = RECORD_DTYPE.itemsize // 8
STAMP_WORD, TS_WORD, EC_WORD, A0_WORD, COMMIT_WORD = 0, 1, 2, 3, 8

assert HEADER_DTYPE.itemsize == HEADER_SIZE and RECORD_DTYPE.itemsize == RECORD_SIZE


def commit_word(seq: int | np.ndarray, kind: int | np.ndarray) -> np.ndarray:
    """The commit word of a record: ``~(seq << 8 | kind)`` (uint64)."""
    s = np.asarray(seq).astype(np.uint64) & np.uint64(SEQ_MASK)
    return ~((s << np.uint64(8)) | np.asarray(kind).astype(np.uint64))


@dataclass(frozen=True)
class RingHeader:
    """One ring's header as read from a dump, checked for what the decoder relies on."""

    where: str  # "FILE: byte N" of the header
    offset: int  # byte offset of the header in its file
    version: int
    header_size: int
    record_size: int
    cpu: int
    mode: int
    flags: int
    stc_hz: int
    capacity: int
    write_pos: int
    wrap_count: int
    dropped: int
    next_seq: int
    base_seq: int
    read_pos: int
    lost_pending: int
    lost_first_seq: int
    lost_first_ts: int
    lost_last_ts: int

    @property
    def records_offset(self) -> int:
        return self.offset + self.header_size

    @property
    def total_bytes(self) -> int:
        return self.header_size + self.capacity * self.record_size

    @property
    def written(self) -> int:
        """Records written since set-up, as far as the header knows."""
        return self.wrap_count * self.capacity + self.write_pos


def parse_header(head: bytes, offset: int, path: str) -> RingHeader:
    """Decode and check a header (``head``: its bytes, read at ``offset`` of ``path``); a TraceError subclass
    naming file and byte if it is bad."""
    where = f"{path}: byte {offset}"
    raw = bytes(head[:HEADER_SIZE])
    if len(raw) < 4 or int.from_bytes(raw[:4], "little") != RING_MAGIC:
        if len(raw) >= 4 and int.from_bytes(raw[:4], "big") == RING_MAGIC:
            raise NotATraceError(f"{where}: big-endian ring dump; novatrace reads little-endian rings only")
        raise NotATraceError(f"{where}: not a novatrace recorder ring (no NVTR magic)")
    if len(raw) < HEADER_SIZE:
        raise CorruptTraceError(f"{where}: ring header cut off ({len(raw)} of {HEADER_SIZE} bytes)")
    h = np.frombuffer(raw, dtype=HEADER_DTYPE)[0]
    version = int(h["version"])
    if version != RING_VERSION:
        raise VersionError(f"{where}: ring format version {version}; this novatrace reads version {RING_VERSION}")
    hsize, rsize, cap = int(h["header_size"]), int(h["record_size"]), int(h["capacity"])
    if hsize < HEADER_SIZE or hsize % 8:
        raise CorruptTraceError(f"{where}: header_size {hsize} invalid (at least {HEADER_SIZE}, multiple of 8)")
    if rsize < RECORD_SIZE or rsize % 8:
        raise CorruptTraceError(f"{where}: record_size {rsize} invalid (at least {RECORD_SIZE}, multiple of 8)")
    if not 1 <= cap <= MAX_CAPACITY:
        raise CorruptTraceError(f"{where}: ring capacity {cap} records out of range 1..{MAX_CAPACITY}")
    if int(h["mode"]) not in MODE_NAMES:
        raise CorruptTraceError(f"{where}: ring mode {int(h['mode'])} unknown (0 overwrite, 1 drop)")
    if int(h["stc_hz"]) == 0:
        raise CorruptTraceError(f"{where}: STC frequency 0 in ring header")

    def i64(name: str) -> int:  # sequence numbers are int64 in the event table
        return int(np.uint64(h[name]).view(np.int64))

    return RingHeader(
        where=where,
        offset=offset,
        version=version,
        header_size=hsize,
        record_size=rsize,
        cpu=int(h["cpu"]),
        mode=int(h["mode"]),
        flags=int(h["flags"]),
        stc_hz=int(h["stc_hz"]),
        capacity=cap,
        write_pos=int(h["write_pos"]),
        wrap_count=int(h["wrap_count"]),
        dropped=int(h["dropped"]),
        next_seq=i64("next_seq"),
        base_seq=i64("base_seq"),
        read_pos=int(h["read_pos"]),
        lost_pending=int(h["lost_pending"]),
        lost_first_seq=i64("lost_first_seq"),
        lost_first_ts=int(h["lost_first_ts"]),
        lost_last_ts=int(h["lost_last_ts"]),
    )
