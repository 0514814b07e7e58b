"""numba kernels of the ring capture: the recorder (for the writer) and the slot decoder.

Both work on a ring's records as an int64 matrix, one row per slot, one column per 64-bit word (the
layout of ``layout.RECORD_DTYPE``; unsigned words are bit-cast). Everything stays int64 so no uint64/int64
mixing can wrap silently. Kernels return status codes instead of raising. This module imports numba; its
users import it lazily.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

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


# --- the decoder: every CPU's slots -> one (ts, cpu, seq)-ordered table, in one pass ---------------------------

# per-CPU decoder state, one row per ring (carried from call to call)
(
    C_POS,  # next position in the ring's oldest-first order
    C_N,  # slots in the dump
    C_CUT,  # slot of the oldest record (rings[c] is rotated there); 0 = not rotated
    C_HEAD,  # HEAD_RECORD / HEAD_LOSS / HEAD_DONE
    C_HEAD_SLOT,
    C_HEAD_TS,
    C_LAST_SEQ,
    C_LAST_TS,
    C_EMPTY,
    C_TORN,
    C_BAD_KIND,
    C_TS_DROPPED,
    C_GAPS,
    C_GAP_RECORDS,
    C_LOSS_RECORDS,
    C_LOSS_LOST,
    C_FIRST_SEQ,
    C_FIRST_TS,
    C_VALID,
    C_BAD_AT,
    C_TRAIL_LOST,
    C_STALE_HEADER,
    C_TRAIL_DONE,  # the trailing loss has been decided (emitted or not needed)
    C_FIRST_LOSS,  # records the first record covers if it is a RECORDER_LOSS (they precede the window)
) = range(24)
N_CSTATE = 24
HEAD_NONE, HEAD_RECORD, HEAD_LOSS, HEAD_DONE = 0, 1, 2, 3

# per-CPU header values the decoder needs
(
    P_CPU,
    P_NEXT_SEQ,
    P_BASE_SEQ,
    P_LOST_PENDING,
    P_LOST_FIRST_SEQ,
    P_LOST_FIRST_TS,
    P_LOST_LAST_TS,
    P_ROW_BYTES,  # bytes per slot row (record_size)
) = range(8)
N_PARAM = 8

NO_SEQ = np.iinfo(np.int64).min
DONE, FULL, SEQ_NOT_INCREASING, TS_BACKWARDS = 0, 1, 2, 3
GAP_LOG = 64  # unrecorded gaps kept in detail per CPU: first_seq, count, ts before, ts after


@intrinsic
def _words(typingctx, address):
    """The int64 words at a raw address (a slot in a memory-mapped ring the caller keeps alive).

    Indexing one ``numba.typed.List`` of per-CPU arrays per record cost ~15 ns, more than decoding it; rings
    are therefore passed as base addresses (``ndarray.ctypes.data``) and read through a pointer.
    """
    sig = types.CPointer(types.int64)(types.int64)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.int64)))

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def _next_whole(addr, row_bytes, n, cut, pos, n_kinds):
    """The next whole slot at or after position ``pos``: (position after it, slot or -1, empty, torn, bad kind).

    No stores in this loop: a single (never executed) array store in it halved the decoder's throughput.
    """
    empty = 0
    torn = 0
    bad = 0
    while pos < n:
        slot = cut + pos if pos < n - cut else pos - (n - cut)
        pos += 1
        w = _words(addr + slot * row_bytes)
        stamp = w[0]
        inv = ~w[COMMIT_WORD]
        if stamp != ((inv >> 8) & SEQ_MASK):
            if stamp == 0 and w[COMMIT_WORD] == 0:
                empty += 1
            else:
                torn += 1
            continue
        if (inv & 0xFF) >= n_kinds:
            bad += 1
            continue
        return pos, slot, empty, torn, bad
    return pos, -1, empty, torn, bad


@njit(cache=True, nogil=True, inline="always")
def _sift_down(heap, n, i, st, par):
    while True:
        small = i
        for j in (2 * i + 1, 2 * i + 2):
            if j < n:
                a, b = heap[j], heap[small]
                if st[a, C_HEAD_TS] < st[b, C_HEAD_TS] or (
                    st[a, C_HEAD_TS] == st[b, C_HEAD_TS] and par[a, P_CPU] < par[b, P_CPU]
                ):
                    small = j
        if small == i:
            return
        heap[i], heap[small] = heap[small], heap[i]
        i = small


@njit(cache=True, nogil=True)
def merge_rings(base, st, par, gaps, heap, g, hc_table, n_kinds, loss_kind, salvage, cols):
    """Decode and merge the rings (slot matrices at addresses ``base``) into ``cols`` until they are full.

    A binary heap orders the CPUs by their next record (ts, then CPU); the top CPU emits records while they
    stay ahead of every other CPU's next one. A CPU whose next record is not known yet (HEAD_NONE) sorts
    first, so the loop also finds the first records. The per-CPU state lives in locals during a run and in
    ``st`` between runs; the advance logic is written out flat in the loop (as a helper returning a tuple
    from several exits it ran at a third of the speed).

    ``g`` = [heap size, initialised, rows written, CPU index of an error]. Returns DONE when every ring is
    used up, FULL when ``cols`` are full (call again with fresh columns), or an error status (the CPU in
    g[3], the slot in its C_BAD_AT).
    """
    ts, cpu, seq, kind, hc, ec, a0, a1, a2, a3, a4 = cols
    low = np.iinfo(np.int64).min
    big = np.iinfo(np.int64).max
    if g[1] == 0:
        for c in range(base.shape[0]):
            st[c, C_HEAD] = HEAD_NONE
            st[c, C_HEAD_TS] = low
            heap[c] = c
        g[0] = base.shape[0]
        g[1] = 1
    n_out = 0
    cap = ts.shape[0]
    status = DONE
    while g[0] > 0 and n_out < cap:
        c = heap[0]
        me = par[c, P_CPU]
        bound_ts, bound_cpu = big, big  # the best next record among the other CPUs
        for j in (1, 2):
            if j < g[0]:
                o = heap[j]
                if st[o, C_HEAD_TS] < bound_ts or (st[o, C_HEAD_TS] == bound_ts and par[o, P_CPU] < bound_cpu):
                    bound_ts, bound_cpu = st[o, C_HEAD_TS], par[o, P_CPU]
        addr, row_bytes, n, cut = base[c], par[c, P_ROW_BYTES], st[c, C_N], st[c, C_CUT]
        pos, last, last_ts, valid = st[c, C_POS], st[c, C_LAST_SEQ], st[c, C_LAST_TS], st[c, C_VALID]
        head, slot, t = st[c, C_HEAD], st[c, C_HEAD_SLOT], st[c, C_HEAD_TS]
        while n_out < cap:
            if head == HEAD_NONE:  # advance to the next whole record
                pos, slot, empty, torn, bad = _next_whole(addr, row_bytes, n, cut, pos, n_kinds)
                if empty + torn + bad:
                    st[c, C_EMPTY] += empty
                    st[c, C_TORN] += torn
                    st[c, C_BAD_KIND] += bad
                if slot >= 0:
                    w = _words(addr + slot * row_bytes)
                    stamp = w[0]
                    t = w[1]
                    k = (~w[COMMIT_WORD]) & 0xFF
                    if valid > 0:
                        if stamp <= last:
                            st[c, C_BAD_AT] = slot
                            status = SEQ_NOT_INCREASING
                            break
                        if t < last_ts:
                            if not salvage:
                                st[c, C_BAD_AT] = slot
                                status = TS_BACKWARDS
                                break
                            st[c, C_TS_DROPPED] += 1
                            continue
                        gap = stamp - last - 1
                        if gap > 0 and not (k == loss_kind and w[3] == gap and w[6] == last + 1):
                            ng = st[c, C_GAPS]
                            if ng < gaps.shape[1]:
                                gaps[c, ng, 0] = last + 1
                                gaps[c, ng, 1] = gap
                                gaps[c, ng, 2] = last_ts
                                gaps[c, ng, 3] = t
                            st[c, C_GAPS] += 1
                            st[c, C_GAP_RECORDS] += gap
                    else:
                        st[c, C_FIRST_SEQ] = stamp
                        st[c, C_FIRST_TS] = t
                        if k == loss_kind and w[6] + w[3] == stamp:
                            st[c, C_FIRST_LOSS] = w[3]
                    if k == loss_kind:
                        st[c, C_LOSS_RECORDS] += 1
                        st[c, C_LOSS_LOST] += w[3]
                    last = stamp
                    last_ts = t
                    valid += 1
                    head = HEAD_RECORD
                elif st[c, C_TRAIL_DONE]:
                    head = HEAD_DONE
                else:  # used up: numbers after the last record that the header says were used are lost
                    st[c, C_TRAIL_DONE] = 1
                    end = last if valid > 0 else par[c, P_BASE_SEQ] - 1
                    if par[c, P_NEXT_SEQ] <= end:
                        st[c, C_STALE_HEADER] = 1
                    lost = par[c, P_NEXT_SEQ] - end - 1
                    if lost <= 0:
                        head = HEAD_DONE
                    else:
                        st[c, C_TRAIL_LOST] = lost
                        t = last_ts if valid > 0 else 0
                        if par[c, P_LOST_PENDING] > 0 and par[c, P_LOST_LAST_TS] > t:
                            t = par[c, P_LOST_LAST_TS]
                        head = HEAD_LOSS
                if head == HEAD_DONE:
                    break
            if t > bound_ts or (t == bound_ts and me > bound_cpu):
                break  # another CPU's record comes first
            ts[n_out] = t
            cpu[n_out] = me
            if head == HEAD_RECORD:
                w = _words(addr + slot * row_bytes)
                kd = (~w[COMMIT_WORD]) & 0xFF
                seq[n_out] = w[0]
                kind[n_out] = kd
                ec[n_out] = w[2]
                a0[n_out] = w[3]
                a1[n_out] = w[4]
                a2[n_out] = w[5]
                a3[n_out] = w[6]
                a4[n_out] = w[7]
                code = hc_table[(w[3] if kd == 0 else w[7]) & 0xF]  # entry: p0's number; exit: a4 (number)
                hc[n_out] = code if kd < 2 else 255
            else:  # the trailing loss record
                end = last if valid > 0 else par[c, P_BASE_SEQ] - 1
                pending = par[c, P_LOST_PENDING] > 0
                seq[n_out] = par[c, P_NEXT_SEQ]
                kind[n_out] = loss_kind
                hc[n_out] = 255
                ec[n_out] = -1  # the current EC is not known
                a0[n_out] = st[c, C_TRAIL_LOST]
                a1[n_out] = par[c, P_LOST_FIRST_TS] if pending and par[c, P_LOST_FIRST_SEQ] == end + 1 else -1
                a2[n_out] = par[c, P_LOST_LAST_TS] if pending else -1
                a3[n_out] = end + 1
                a4[n_out] = 0
            n_out += 1
            head = HEAD_NONE
        st[c, C_POS], st[c, C_LAST_SEQ], st[c, C_LAST_TS], st[c, C_VALID] = pos, last, last_ts, valid
        st[c, C_HEAD], st[c, C_HEAD_SLOT], st[c, C_HEAD_TS] = head, slot, low if head == HEAD_NONE else t
        if status != DONE:
            g[2] = n_out
            g[3] = c
            return status
        if head == HEAD_DONE:
            g[0] -= 1
            heap[0] = heap[g[0]]
        _sift_down(heap, g[0], 0, st, par)
    g[2] = n_out
    return DONE if g[0] == 0 else FULL


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
