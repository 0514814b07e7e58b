"""From the kernel's raw rows to the format's columns: one pass that takes rows in time order, narrows the
types and derives ``hc`` (the part of a batch that numpy would do in a dozen copies)."""

from __future__ import annotations

from numba import njit

from tracefmt.events import Kind
from tracefmt.nova import P0_NUMBER_MASK, Hc

_ENTRY, _EXIT, _NONE = int(Kind.HC_ENTRY), int(Kind.HC_EXIT), int(Hc.NONE)


@njit(
    "void(int64[:, ::1], int64[::1], uint8[::1], int64[::1], int16[::1], int64[::1], uint8[::1], uint8[::1], "
    "int64[::1], int64[::1], int64[::1], int64[::1], int64[::1], int64[::1])",
    cache=True,
    nogil=True,
)
def take_rows(raw, order, table, ts, cpu, seq, kind, hc, ec, a0, a1, a2, a3, a4):
    """Row ``order[i]`` of ``raw`` (10 x n: ts cpu seq kind ec a0..a4) becomes row i of the output columns."""
    for i in range(order.shape[0]):
        j = order[i]
        k = raw[3, j]
        ts[i] = raw[0, j]
        cpu[i] = raw[1, j]
        seq[i] = raw[2, j]
        kind[i] = k
        ec[i] = raw[4, j]
        a0[i] = raw[5, j]
        a1[i] = raw[6, j]
        a2[i] = raw[7, j]
        a3[i] = raw[8, j]
        a4[i] = raw[9, j]
        if k == _ENTRY:
            hc[i] = table[raw[5, j] & P0_NUMBER_MASK]
        elif k == _EXIT:
            hc[i] = table[raw[9, j] & P0_NUMBER_MASK]
        else:
            hc[i] = _NONE
