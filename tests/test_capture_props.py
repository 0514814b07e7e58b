"""Property tests: whatever bytes a ring dump holds, the decoder decodes them or raises a TraceError - and
what it decodes is a well-formed trace (sorted, per-CPU sequence numbers increasing, known kinds)."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracefmt.builder import TraceBuilder
from tracefmt.capture import layout as L
from tracefmt.capture.rings import RingDecoder
from tracefmt.capture.ringwrite import ring_images
from tracefmt.errors import TraceError
from tracefmt.events import N_KINDS, Kind
from tracefmt.platform import example_x86
from tracefmt.schema import EventBatch
from tracefmt.validate import check

PLATFORM = example_x86(cpus=2)
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: the profile (conftest)


@cache
def valid_dump() -> tuple[bytes, frozenset[tuple[int, ...]]]:
    """Two wrapped overwrite rings in one file, and the set of (cpu, ts, kind, ec, a0..a4) rows written."""
    b = TraceBuilder(PLATFORM, tick=3)
    for i in range(40):
        b.event(i % 2, Kind.SM_BLOCK, ec=0x100 + i, sm=i, deadline=i * 7, sc=-i)
    batch = b.batch()
    raw = b"".join(img.tobytes() for img in ring_images(batch, PLATFORM, ring_records=16))
    rows = frozenset(zip(*(c.tolist() for c in (batch.cpu, batch.ts, batch.kind, batch.ec, *batch[6:])), strict=True))
    return raw, rows


def decode_bytes(data: bytes, salvage: bool = False) -> EventBatch | None:
    """Decode ``data`` as a ring file; None if it is rejected with a TraceError (anything else propagates)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "dump.ring"
        path.write_bytes(data)
        try:
            return RingDecoder([path], PLATFORM, salvage=salvage, batch_rows=7).read_all()
        except TraceError:
            return None


def well_formed(ev: EventBatch) -> None:
    assert np.all(ev.kind < N_KINDS)
    rep = check([ev], PLATFORM, "x")
    order_or_seq = [e for e in rep.errors if "not sorted" in e or "sequence number" in e]
    assert order_or_seq == []


header_fields = st.fixed_dictionaries(
    {
        "version": st.sampled_from([1, 1, 1, 0, 2]),
        "header_size": st.sampled_from([128, 128, 136, 0, 7]),
        "record_size": st.sampled_from([72, 72, 80, 64, 0]),
        "cpu": st.integers(0, 3),
        "mode": st.integers(0, 2),
        "stc_hz": st.sampled_from([PLATFORM.stc_hz, 0, 1]),
        "capacity": st.one_of(st.integers(0, 40), st.integers(0, 2**64 - 1)),
        "write_pos": st.integers(0, 2**64 - 1) | st.integers(0, 40),
        "wrap_count": st.integers(0, 3) | st.integers(0, 2**64 - 1),
        "next_seq": st.integers(0, 2**64 - 1) | st.integers(0, 60),
        "base_seq": st.integers(0, 60),
        "lost_pending": st.integers(0, 5),
        "lost_first_seq": st.integers(0, 60),
        "lost_first_ts": st.integers(-(2**63), 2**63 - 1),
        "lost_last_ts": st.integers(-(2**63), 2**63 - 1),
    }
)


@SETTINGS
@given(fields=header_fields, body=st.binary(max_size=3000), salvage=st.booleans())
def test_random_header_and_random_slots_never_crash(fields: dict[str, int], body: bytes, salvage: bool) -> None:
    h = np.zeros(1, L.HEADER_DTYPE)
    h["magic"] = L.RING_MAGIC
    for k, v in fields.items():
        h[k] = v
    ev = decode_bytes(h.tobytes() + body, salvage)
    if ev is not None:
        well_formed(ev)


@SETTINGS
@given(
    fields=header_fields,
    slots=st.lists(
        st.tuples(st.integers(0, 70), st.integers(0, 10**6), st.integers(0, 25), st.booleans()), max_size=40
    ),
)
def test_rings_of_plausible_but_inconsistent_records_never_crash(
    fields: dict[str, int], slots: list[tuple[int, int, int, bool]]
) -> None:
    """Whole-looking records with random sequence numbers, times and kinds (some torn) in any order."""
    fields = {**fields, "version": 1, "header_size": 128, "record_size": 72, "stc_hz": PLATFORM.stc_hz}
    h = np.zeros(1, L.HEADER_DTYPE)
    h["magic"] = L.RING_MAGIC
    for k, v in fields.items():
        h[k] = v
    h["capacity"] = max(1, len(slots))
    rec = np.zeros(len(slots), L.RECORD_DTYPE)
    for i, (seq, ts, kind, torn) in enumerate(slots):
        rec[i]["stamp"], rec[i]["ts"] = seq, ts
        rec[i]["commit"] = L.commit_word(seq + torn, kind)
    for salvage in (False, True):
        ev = decode_bytes(h.tobytes() + rec.tobytes(), salvage)
        if ev is not None:
            well_formed(ev)


@SETTINGS
@given(cut=st.integers(0, 2 * (128 + 16 * 72)))
def test_a_dump_cut_anywhere_decodes_a_subset_or_is_refused(cut: int) -> None:
    raw, written = valid_dump()
    ev = decode_bytes(raw[:cut])
    if ev is None:
        assert cut < 128  # only a cut inside the first header loses everything
        return
    well_formed(ev)
    real = ev.kind != Kind.RECORDER_LOSS
    rows = set(zip(*(c[real].tolist() for c in (ev.cpu, ev.ts, ev.kind, ev.ec, *ev[6:])), strict=True))
    assert rows <= written


@SETTINGS
@given(flips=st.lists(st.tuples(st.integers(0, 2 * (128 + 16 * 72) - 1), st.integers(1, 255)), max_size=8))
def test_bit_flips_anywhere_never_crash(flips: list[tuple[int, int]]) -> None:
    raw, _ = valid_dump()
    data = bytearray(raw)
    for at, mask in flips:
        data[at] ^= mask
    for salvage in (False, True):
        ev = decode_bytes(bytes(data), salvage)
        if ev is not None:
            well_formed(ev)


@SETTINGS
@given(data=st.binary(max_size=600))
def test_random_files_are_refused_with_a_trace_error(data: bytes) -> None:
    assert decode_bytes(data) is None or data[:4] == L.RING_MAGIC.to_bytes(4, "little")


def test_every_header_byte_flipped_decodes_or_is_refused() -> None:
    raw, _ = valid_dump()
    ring = 128 + 16 * 72
    for at in [*range(128), *range(ring, ring + 128)]:
        for mask in (0x01, 0x80):
            data = bytearray(raw)
            data[at] ^= mask
            ev = decode_bytes(bytes(data))
            if ev is not None:
                well_formed(ev)
