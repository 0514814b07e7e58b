"""numba kernels of the ring capture: the recorder (for the writer) and the slot decoder.

Both work on a ring's records as an int64 matrix, one row per slot, one column per 64-bit word (the
layout of ``layout.RECORD_DTYPE``; unsigned words are bit-cast). Everything stays int64 so no uint64/int64
mixing can wrap silently. Kernels return status codes instead of raising. This module imports numba; its
users import it lazily.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tracefmt.capture.layout import COMMIT_WORD, SEQ_MASK

# --- the recorder, as recorder.h describes it (used by ringwrite) ---------------------------------------------

# state words of the emulated recorder; H_WRITTEN is its private running total, H_NEXT_DRAIN the consumer's
(
    H_WRITE_POS,
    H_WRAP,
    H_DROPPED,
    H_NEXT_SEQ,
    H_BASE_SEQ,
    H_READ_POS,
    H_LOST_PENDING,
    H_LOST_FIRST_SEQ,
    H_LOST_FIRST_TS,
    H_LOST_LAST_TS,
    H_WRITTEN,
    H_NEXT_DRAIN,
) = range(12)
N_STATE = 12


@njit(cache=True, nogil=True)
def _put(slots, st, kind, seq, ts, ec, w0, w1, w2, w3, w4, torn):
    r = st[H_WRITE_POS]
    slots[r, 0] = seq  # stamp first
    slots[r, 1] = ts
    if torn:  # the machine stopped here: the rest of the payload and the commit word never got written
        return
    slots[r, 2] = ec
    slots[r, 3] = w0
    slots[r, 4] = w1
    slots[r, 5] = w2
    slots[r, 6] = w3
    slots[r, 7] = w4
    slots[r, COMMIT_WORD] = ~(((seq & SEQ_MASK) << 8) | kind)  # commit last
    st[H_WRITTEN] += 1
    st[H_WRITE_POS] = r + 1
    if r + 1 == slots.shape[0]:
        st[H_WRITE_POS] = 0
        st[H_WRAP] += 1


@njit(cache=True, nogil=True)
def record_cpu(ts, seq, kind, ec, a0, a1, a2, a3, a4, slots, st, drop_mode, drain_period, torn_last, loss_kind):
    """Feed one CPU's events (in sequence order) to the recorder; ``slots``/``st`` hold the ring afterwards."""
    cap = slots.shape[0]
    n = ts.shape[0]
    offset = 0  # loss records inserted so far: later events get numbers this much higher than in the input
    for i in range(n):
        t = ts[i]
        if drop_mode and drain_period > 0 and t >= st[H_NEXT_DRAIN]:
            st[H_READ_POS] = st[H_WRITTEN]  # the consumer took everything written so far
            st[H_NEXT_DRAIN] = (t // drain_period + 1) * drain_period
        s = seq[i] + offset
        if s > st[H_NEXT_SEQ]:
            st[H_NEXT_SEQ] = s  # the input itself skips numbers here
        need = 2 if st[H_LOST_PENDING] > 0 else 1
        room = cap - (st[H_WRITTEN] - st[H_READ_POS]) if drop_mode else cap
        if room < need:  # drop it and count it
            s = st[H_NEXT_SEQ]
            st[H_NEXT_SEQ] = s + 1
            st[H_DROPPED] += 1
            if st[H_LOST_PENDING] == 0:
                st[H_LOST_FIRST_SEQ] = s
                st[H_LOST_FIRST_TS] = t
            st[H_LOST_PENDING] += 1
            st[H_LOST_LAST_TS] = t
            continue
        if st[H_LOST_PENDING] > 0:  # the loss record gets its own number, after the lost ones
            s = st[H_NEXT_SEQ]
            st[H_NEXT_SEQ] = s + 1
            lost, first_ts, last_ts, first_seq = (
                st[H_LOST_PENDING],
                st[H_LOST_FIRST_TS],
                st[H_LOST_LAST_TS],
                st[H_LOST_FIRST_SEQ],
            )
            _put(slots, st, loss_kind, s, t, ec[i], lost, first_ts, last_ts, first_seq, 0, False)
            st[H_LOST_PENDING] = 0
            offset += 1
        s = st[H_NEXT_SEQ]
        st[H_NEXT_SEQ] = s + 1
        _put(slots, st, kind[i], s, t, ec[i], a0[i], a1[i], a2[i], a3[i], a4[i], torn_last and i == n - 1)


# --- the decoder --------------------------------------------------------------------------------------------

# decoder state (carried from chunk to chunk of one CPU)
(
    D_LAST_SEQ,
    D_LAST_TS,
    D_EMPTY,
    D_TORN,
    D_BAD_KIND,
    D_TS_DROPPED,
    D_GAPS,
    D_GAP_RECORDS,
    D_LOSS_RECORDS,
    D_LOSS_LOST,
    D_FIRST_SEQ,
    D_FIRST_TS,
    D_VALID,
    D_BAD_AT,
) = range(14)
N_DSTATE = 14
NO_SEQ = np.iinfo(np.int64).min
OK, SEQ_NOT_INCREASING, TS_BACKWARDS = 0, 1, 2
GAP_LOG = 64  # unrecorded gaps kept in detail (first_seq, count, ts_before, ts_after)


@njit(cache=True, nogil=True)
def decode_slots(rows, n_kinds, loss_kind, salvage, st, gaps, ts, seq, kind, ec, a0, a1, a2, a3, a4):
    """Decode ring slots (rows already in sequence order) into the output columns.

    Skips empty, torn and unknown-kind slots (counted in ``st``), checks that sequence numbers increase and
    timestamps never decrease, and accounts for sequence gaps. Returns (status, rows written); on a status
    other than OK, ``st[D_BAD_AT]`` is the offending row.
    """
    n_out = 0
    for i in range(rows.shape[0]):
        stamp = rows[i, 0]
        inv = ~rows[i, COMMIT_WORD]
        k = inv & 0xFF
        if stamp != ((inv >> 8) & SEQ_MASK):
            if stamp == 0 and rows[i, COMMIT_WORD] == 0:
                st[D_EMPTY] += 1
            else:
                st[D_TORN] += 1
            continue
        if k >= n_kinds:
            st[D_BAD_KIND] += 1
            continue
        t = rows[i, 1]
        last = st[D_LAST_SEQ]
        if last != NO_SEQ:
            if stamp <= last:
                st[D_BAD_AT] = i
                return SEQ_NOT_INCREASING, n_out
            if t < st[D_LAST_TS]:
                if not salvage:
                    st[D_BAD_AT] = i
                    return TS_BACKWARDS, n_out
                st[D_TS_DROPPED] += 1
                continue
            gap = stamp - last - 1
            if gap > 0:
                recorded = k == loss_kind and rows[i, 3] == gap and rows[i, 6] == last + 1
                if not recorded:
                    g = st[D_GAPS]
                    if g < gaps.shape[0]:
                        gaps[g, 0] = last + 1
                        gaps[g, 1] = gap
                        gaps[g, 2] = st[D_LAST_TS]
                        gaps[g, 3] = t
                    st[D_GAPS] += 1
                    st[D_GAP_RECORDS] += gap
        else:
            st[D_FIRST_SEQ] = stamp
            st[D_FIRST_TS] = t
        if k == loss_kind:
            st[D_LOSS_RECORDS] += 1
            st[D_LOSS_LOST] += rows[i, 3]
        ts[n_out] = t
        seq[n_out] = stamp
        kind[n_out] = k
        ec[n_out] = rows[i, 2]
        a0[n_out] = rows[i, 3]
        a1[n_out] = rows[i, 4]
        a2[n_out] = rows[i, 5]
        a3[n_out] = rows[i, 6]
        a4[n_out] = rows[i, 7]
        n_out += 1
        st[D_LAST_SEQ] = stamp
        st[D_LAST_TS] = t
        st[D_VALID] += 1
    return OK, n_out


@njit(cache=True, nogil=True)
def valid_stamps(rows, n_kinds):
    """Sequence number of every whole slot, -1 for empty, torn or unknown-kind slots (for re-sorting)."""
    out = np.empty(rows.shape[0], np.int64)
    for i in range(rows.shape[0]):
        stamp = rows[i, 0]
        inv = ~rows[i, COMMIT_WORD]
        if stamp == ((inv >> 8) & SEQ_MASK) and (inv & 0xFF) < n_kinds:
            out[i] = stamp
        else:
            out[i] = -1
    return out
