"""Write per-CPU recorder rings from events: the recorder of ``tracefmt/recorder.h``, emulated.

Used by tests and by ``synth --format rings`` to produce dumps exactly as a kernel recorder would leave
them: rings that wrapped (overwrite mode), overflowed (drop mode, with the dropped counter and the
recorder's own RECORDER_LOSS records), and a record torn by a crash in the middle of writing it.
Cutting a dump short is a matter of truncating the file.

Sequence numbers: the recorder numbers records itself. It continues the input's numbering (so a trace
without loss comes back unchanged) and, like the real recorder, gives every RECORDER_LOSS record it
writes the next number, after the lost ones - so events after a loss have numbers one higher per loss
record than in the input.

    write_rings(batch, platform, "dump/", ring_records=4096, mode="drop", drain_period=50_000)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracefmt.capture import layout as L
from tracefmt.events import Kind
from tracefmt.platform import Platform
from tracefmt.schema import EventBatch


@dataclass(frozen=True)
class RingImage:
    """One CPU's ring as the recorder left it: header fields and the raw record slots."""

    cpu: int
    header: np.ndarray  # HEADER_DTYPE, shape (1,)
    slots: np.ndarray  # int64[capacity, RECORD_WORDS], the words bit-cast

    def tobytes(self) -> bytes:
        return self.header.tobytes() + self.slots.tobytes()


MODES = {"overwrite": L.MODE_OVERWRITE, "drop": L.MODE_DROP}


def ring_images(
    events: EventBatch | dict[str, np.ndarray],
    platform: Platform,
    *,
    ring_records: int = 4096,
    mode: str = "overwrite",
    drain_period: int | None = None,
    torn: bool = False,
) -> list[RingImage]:
    """Run every CPU's events (in sequence order) through an emulated recorder; one image per CPU.

    ``mode``: "overwrite" (flight recorder) or "drop". ``drain_period`` (drop mode): a consumer empties the
    ring every that many STC ticks. ``torn``: the machine stopped while the last event of each CPU was being
    written (its slot keeps the new stamp and an old commit word).
    """
    from tracefmt.capture import _kernels as K

    if mode not in MODES:
        raise ValueError(f"mode {mode!r} unknown (overwrite, drop)")
    if ring_records < 2:
        raise ValueError("a ring needs at least 2 records")
    cols = events._asdict() if isinstance(events, EventBatch) else events
    cpu = np.asarray(cols["cpu"]).astype(np.int64)
    if cpu.size and (cpu.min() < 0 or cpu.max() >= platform.cpus):
        raise ValueError(f"event CPU outside the platform's 0..{platform.cpus - 1}")
    seq = np.asarray(cols["seq"]).astype(np.int64)
    order = np.lexsort((seq, cpu))
    bounds = np.searchsorted(cpu[order], np.arange(platform.cpus + 1))
    words = {name: np.ascontiguousarray(np.asarray(cols[name]).astype(np.int64)[order]) for name in _WORDS}
    kinds = np.ascontiguousarray(np.asarray(cols["kind"]).astype(np.int64)[order])
    images = []
    for c in range(platform.cpus):
        lo, hi = int(bounds[c]), int(bounds[c + 1])
        if hi > lo and np.any(np.diff(words["seq"][lo:hi]) <= 0):
            raise ValueError(f"cpu {c}: sequence numbers not strictly increasing")
        st = np.zeros(K.N_STATE, np.int64)
        first_seq = int(words["seq"][lo]) if hi > lo else 0
        st[K.H_NEXT_SEQ] = st[K.H_BASE_SEQ] = first_seq
        if hi > lo and drain_period:
            st[K.H_NEXT_DRAIN] = (int(words["ts"][lo]) // drain_period + 1) * drain_period
        slots = np.zeros((ring_records, L.RECORD_WORDS), np.int64)
        K.record_cpu(
            *(words[name][lo:hi] for name in ("ts", "seq")),
            kinds[lo:hi],
            *(words[name][lo:hi] for name in ("ec", "a0", "a1", "a2", "a3", "a4")),
            slots,
            st,
            MODES[mode] == L.MODE_DROP,
            int(drain_period or 0),
            bool(torn),
            int(Kind.RECORDER_LOSS),
        )
        images.append(RingImage(c, _header(c, st, platform.stc_hz, ring_records, MODES[mode]), slots))
    return images


_WORDS = ("ts", "seq", "ec", "a0", "a1", "a2", "a3", "a4")


def _header(cpu: int, st: np.ndarray, stc_hz: int, capacity: int, mode: int) -> np.ndarray:
    from tracefmt.capture import _kernels as K

    h = np.zeros(1, L.HEADER_DTYPE)
    h["magic"] = L.RING_MAGIC
    h["version"] = L.RING_VERSION
    h["header_size"] = L.HEADER_SIZE
    h["record_size"] = L.RECORD_SIZE
    h["cpu"] = cpu
    h["mode"] = mode
    h["stc_hz"] = stc_hz
    h["capacity"] = capacity
    for name, i in (
        ("write_pos", K.H_WRITE_POS),
        ("wrap_count", K.H_WRAP),
        ("dropped", K.H_DROPPED),
        ("next_seq", K.H_NEXT_SEQ),
        ("base_seq", K.H_BASE_SEQ),
        ("read_pos", K.H_READ_POS),
        ("lost_pending", K.H_LOST_PENDING),
        ("lost_first_seq", K.H_LOST_FIRST_SEQ),
        ("lost_first_ts", K.H_LOST_FIRST_TS),
        ("lost_last_ts", K.H_LOST_LAST_TS),
    ):
        h[name] = np.array(st[i], np.int64).view(np.uint64) if h.dtype[name] == np.uint64 else st[i]
    return h


def write_rings(
    events: EventBatch | dict[str, np.ndarray],
    platform: Platform,
    out_dir: str | os.PathLike[str],
    *,
    ring_records: int = 4096,
    mode: str = "overwrite",
    drain_period: int | None = None,
    torn: bool = False,
    one_file: bool = False,
) -> list[Path]:
    """Write one ring dump per CPU (``cpu0.ring`` ...) into ``out_dir``, or all of them into ``rings.bin``
    (``one_file``, the way a dump of the whole per-CPU area looks). Returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = ring_images(events, platform, ring_records=ring_records, mode=mode, drain_period=drain_period, torn=torn)
    if one_file:
        path = out / "rings.bin"
        with open(path, "wb") as f:
            for img in images:
                f.write(img.tobytes())
        return [path]
    paths = []
    for img in images:
        path = out / f"cpu{img.cpu}.ring"
        path.write_bytes(img.tobytes())
        paths.append(path)
    return paths
