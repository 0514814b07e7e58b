"""Derived tables of a trace: one row per interrupt occurrence, per hypercall and per IPC.

One numba pass per batch over the event columns; the state carried across batches (open hypercalls and IPCs
per EC, the open occurrence per interrupt, per-CPU loss counters) is bounded by the number of ECs and
interrupts, not by the trace length. Finished rows are copied out of fixed-size output buffers into polars
DataFrame chunks (``TableBuilder``); ``finish`` closes what is still open and sorts each table by its first event.
The kernels pass individual arrays to their helpers, never the ``State`` tuple: a tuple argument costs ~70 ns per
call (it is not inlined); per-slot state is one row per EC / interrupt, so one event touches few cache lines.

Lifecycle of an interrupt occurrence (FORMAT.md 4.4, MODEL.md 10.2): IRQ_ARRIVAL, then on the same CPU
until its next input IRQ_MASK(ARRIVAL) / IRQ_EOI(ARRIVAL) / SM_UP(INTERRUPT) / EC_WAKE of the woken EC;
the woken EC *running* is the next SCHED_SWITCH to it; it *acknowledges* with its next ctrl_sm down (or the
ctrl_sm entry just before an IRQ_UNMASK / IRQ_DEACTIVATE with cause DOWN, which also give the unmask time).
An occurrence stays open until the next arrival of the same interrupt or the end of the trace, so late steps
are still attached to it. Recorder loss (a per-CPU sequence gap or a RECORDER_LOSS record) on a CPU involved
turns a missing step into the outcome LOST; a hypercall whose exit never comes is UNMATCHED_ENTRY (the EC
entered another one), OPEN_AT_END, KILLED or LOST.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from tracefmt.jit import configure

configure()

import numba  # noqa: E402

from tracefmt.decode import INVALID_STATUS  # noqa: E402
from tracefmt.events import IrqCause, Kind, SwitchReason, UpCause  # noqa: E402
from tracefmt.nova import P0_FLAGS_SHIFT, P0_NUMBER_MASK, P0_SEL_SHIFT, FlagCtrlSm, Hc, Status  # noqa: E402
from tracefmt.schema import EventBatch  # noqa: E402


class IrqOutcome(IntEnum):
    """What became of one interrupt occurrence."""

    HANDLED = 0  # the woken EC ran
    PENDING = 1  # the trace ended before the next step (woken EC not yet running, up not yet recorded)
    COALESCED = 2  # no waiter and an earlier up was still unconsumed (counter >= 2 afterwards)
    NO_WAITER = 3  # the up found no waiter: counter 1, a later down takes it
    NO_SEMAPHORE = 4  # no semaphore for the interrupt (irq -1, or no SM_UP in the handler)
    LOST = 5  # a step is missing and the recorder lost records on a CPU involved meanwhile (or the arrival)
    DROPPED = 6  # the counter was at its maximum: the up was dropped
    NOT_RUN = 7  # the next arrival came before the woken EC ran (no loss to explain it)


class HcOutcome(IntEnum):
    COMPLETE = 0  # entry and exit
    NO_EXIT = 1  # by design: ipc_reply never returns, a console import records no exits
    UNMATCHED_ENTRY = 2  # the EC entered another hypercall first: the exit is missing
    OPEN_AT_END = 3  # the trace ended while the call was open (e.g. blocked in a down)
    UNMATCHED_EXIT = 4  # an exit without an entry
    LOST = 5  # entry or exit missing and the recorder of that CPU lost records meanwhile / before
    KILLED = 6  # the EC was killed inside the call


class IpcOutcome(IntEnum):
    REPLIED = 0  # the caller got the reply (ipc_call exit SUCCESS / event: the switch back)
    FAILED = 1  # ipc_call returned another status (TIMEOUT, BAD_CAP, ...: see status)
    ABORTED = 2  # the callee died (status ABORTED) or the caller was killed
    OPEN_AT_END = 3
    UNMATCHED = 4  # the caller started another IPC first
    LOST = 5  # a step is missing and the recorder of that CPU lost records meanwhile


# outcome numbers for the kernels
QO_HANDLED, QO_PENDING, QO_COALESCED, QO_NO_WAITER, QO_NO_SEMAPHORE, QO_LOST, QO_DROPPED, QO_NOT_RUN = (
    int(m) for m in IrqOutcome
)
HO_COMPLETE, HO_NO_EXIT, HO_UNMATCHED_ENTRY, HO_OPEN_AT_END, HO_UNMATCHED_EXIT, HO_LOST, HO_KILLED = (
    int(m) for m in HcOutcome
)
PO_REPLIED, PO_FAILED, PO_ABORTED, PO_OPEN_AT_END, PO_UNMATCHED, PO_LOST = (int(m) for m in IpcOutcome)


# --- column layouts (the kernels index rows by these numbers) -----------------------------------------------

IRQ_COLUMNS = (
    "irq", "cpu", "vector", "source", "irq_kind", "event_id",
    "arrival_idx", "arrival_ts", "mask_idx", "mask_ts", "eoi_idx", "eoi_ts", "up_idx", "up_ts",
    "sm", "counter", "woken_ec", "wake_idx", "wake_ts", "wake_cpu", "running_idx", "running_ts",
    "ack_idx", "ack_ts", "ack_ec", "unmask_idx", "unmask_ts", "unmask_kind", "outcome",
)  # fmt: skip
(
    Q_IRQ, Q_CPU, Q_VEC, Q_SRC, Q_KIND, Q_EID, Q_ARR_I, Q_ARR_T, Q_MASK_I, Q_MASK_T, Q_EOI_I, Q_EOI_T, Q_UP_I,
    Q_UP_T, Q_SM, Q_CNT, Q_WOKEN, Q_WAKE_I, Q_WAKE_T, Q_WAKE_CPU, Q_RUN_I, Q_RUN_T, Q_ACK_I, Q_ACK_T, Q_ACK_EC,
    Q_UNM_I, Q_UNM_T, Q_UNM_K, Q_OUT,
) = range(len(IRQ_COLUMNS))  # fmt: skip
Q_OPEN, Q_GEN, Q_LOSS_A, Q_LOSS_W = range(len(IRQ_COLUMNS), len(IRQ_COLUMNS) + 4)  # per-slot only
Q_N = len(IRQ_COLUMNS) + 4
Q_COLS = len(IRQ_COLUMNS)  # an int for the kernels (a tuple of str would be boxed)

HC_COLUMNS = ("entry_idx", "entry_ts", "exit_idx", "exit_ts", "cpu", "ec", "hc", "p0", "ret_p0", "status", "outcome")
H_ENT_I, H_ENT_T, H_EXIT_I, H_EXIT_T, H_CPU, H_EC, H_HC, H_P0, H_RET, H_STATUS, H_OUT = range(len(HC_COLUMNS))

IPC_COLUMNS = (
    "call_idx", "call_ts", "cpu", "caller", "portal", "via", "event", "callee", "switch_idx", "switch_ts",
    "reply_idx", "reply_ts", "replier", "return_idx", "return_ts", "status", "outcome",
)  # fmt: skip
(
    P_CALL_I, P_CALL_T, P_CPU, P_CALLER, P_PORTAL, P_VIA, P_EVENT, P_CALLEE, P_SW_I, P_SW_T, P_REP_I, P_REP_T,
    P_REPLIER, P_RET_I, P_RET_T, P_STATUS, P_OUT,
) = range(len(IPC_COLUMNS))  # fmt: skip
VIA_CALL, VIA_EVENT = 0, 1

# per-EC state: its open hypercall, its open IPC (as an IPC row), the occurrence it was woken for
E_H_I, E_H_T, E_H_CPU, E_H_HC, E_H_P0, E_H_LOSS = range(6)
E_P = 6  # IPC row fields E_P + P_*
P_COLS = len(IPC_COLUMNS)
E_P_LOSS = E_P + P_COLS
E_W_SLOT, E_W_GEN, E_W_STATE, E_CALLER_OF, E_ID = range(E_P_LOSS + 1, E_P_LOSS + 6)
E_N = E_ID + 1
W_WOKEN, W_RAN = 1, 2

# per-CPU state
C_LAST_SEQ, C_LOSS, C_ARR_SLOT, C_ARR_GEN, C_HC_I, C_HC_T, C_HC_CODE, C_HC_EC = range(8)
C_N = 8

# misc counters
M_N_EC, M_N_IRQ, M_N_QOUT, M_N_HOUT, M_N_POUT, M_GEN, M_NO_EXITS = range(7)
M_N = 8

EMPTY = np.iinfo(np.int64).min  # free hash slot
NOIRQ_KEY = -(1 << 62)  # arrivals without interrupt number are keyed NOIRQ_KEY - cpu
NEED_ROOM = 1  # kernel status: a hash table or output buffer is nearly full
OUT_ROWS = 1 << 15
CHUNK_BYTES = 1 << 25  # finished rows gathered before they become one DataFrame chunk
_HASH_MUL = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64

# event kinds and words as plain ints (frozen into the compiled code; tracefmt.jit keys the cache on them)
K_HC_ENTRY, K_HC_EXIT = int(Kind.HC_ENTRY), int(Kind.HC_EXIT)
K_ARRIVAL, K_MASK, K_UNMASK, K_EOI, K_DEACT = (
    int(Kind.IRQ_ARRIVAL), int(Kind.IRQ_MASK), int(Kind.IRQ_UNMASK), int(Kind.IRQ_EOI), int(Kind.IRQ_DEACTIVATE),
)  # fmt: skip
K_SM_UP, K_EC_WAKE, K_SWITCH = int(Kind.SM_UP), int(Kind.EC_WAKE), int(Kind.SCHED_SWITCH)
K_TIMEOUT, K_IPI_RECV, K_LOSS = int(Kind.TIMEOUT), int(Kind.IPI_RECV), int(Kind.RECORDER_LOSS)
K_KILL, K_EVENT = int(Kind.EC_KILL), int(Kind.EVENT_DELIVERY)
CAUSE_ARRIVAL, CAUSE_DOWN, CAUSE_GUEST = int(IrqCause.ARRIVAL), int(IrqCause.DOWN), int(IrqCause.GUEST)
UP_INTERRUPT = int(UpCause.INTERRUPT)
SW_IPC_CALL, SW_IPC_REPLY, SW_KILL = int(SwitchReason.IPC_CALL), int(SwitchReason.IPC_REPLY), int(SwitchReason.KILL)
HC_IPC_CALL, HC_IPC_REPLY, HC_CTRL_SM = int(Hc.IPC_CALL), int(Hc.IPC_REPLY), int(Hc.CTRL_SM)
ST_SUCCESS, ST_TIMEOUT, ST_ABORTED, ST_MAX = (
    int(Status.SUCCESS),
    int(Status.TIMEOUT),
    int(Status.ABORTED),
    int(Status.MEM_CAP),
)
ST_INVALID = int(INVALID_STATUS)
FLAG_D = int(FlagCtrlSm.D)
SEL_SHIFT, SEL_MASK = P0_SEL_SHIFT, (1 << (64 - P0_SEL_SHIFT)) - 1
FLAGS_SHIFT, NUMBER_MASK = P0_FLAGS_SHIFT, P0_NUMBER_MASK


class State(NamedTuple):
    """Everything carried from one batch to the next (numpy only, so the kernels take it as is)."""

    misc: np.ndarray  # int64[M_N]
    cpus: np.ndarray  # int64[cpus, C_N]
    ech: np.ndarray  # hash EC id -> slot: int64[2 * cap, 2], column 0 keys (EMPTY = free), column 1 slots
    ecs: np.ndarray  # int64[cap, E_N]: one row per EC (a row is one cache line or two)
    irh: np.ndarray  # hash interrupt key -> slot
    irqs: np.ndarray  # int64[cap, Q_N]
    out_irq: np.ndarray  # int64[OUT_ROWS, len(IRQ_COLUMNS)]
    out_hc: np.ndarray
    out_ipc: np.ndarray


def _empty_hash(size: int) -> np.ndarray:
    h = np.full((size, 2), -1, dtype=np.int64)
    h[:, 0] = EMPTY
    return h


def new_state(cpus: int, ec_cap: int = 256, irq_cap: int = 256, out_rows: int = OUT_ROWS) -> State:
    out_rows = max(out_rows, 8)  # one event emits at most 3 rows per table
    c = np.full((cpus, C_N), -1, dtype=np.int64)
    c[:, C_LOSS] = 0
    c[:, C_ARR_GEN] = 0
    return State(
        misc=np.zeros(M_N, dtype=np.int64),
        cpus=c,
        ech=_empty_hash(2 * ec_cap),
        ecs=np.full((ec_cap, E_N), -1, dtype=np.int64),
        irh=_empty_hash(2 * irq_cap),
        irqs=np.full((irq_cap, Q_N), -1, dtype=np.int64),
        out_irq=np.full((out_rows, len(IRQ_COLUMNS)), -1, dtype=np.int64),
        out_hc=np.full((out_rows, len(HC_COLUMNS)), -1, dtype=np.int64),
        out_ipc=np.full((out_rows, len(IPC_COLUMNS)), -1, dtype=np.int64),
    )


# --- kernels -------------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _hash(key: int, mask: int) -> int:
    h = key * _HASH_MUL
    h ^= h >> 31
    return h & mask


@numba.njit(cache=True)
def _find(h: np.ndarray, key: int) -> int:
    """Slot of ``key`` in hash table ``h`` (column 0 keys, column 1 slots), or -1."""
    mask = h.shape[0] - 1
    i = _hash(key, mask)
    while True:
        k = h[i, 0]
        if k == key:
            return h[i, 1]
        if k == EMPTY:
            return -1
        i = (i + 1) & mask


@numba.njit(cache=True)
def _get(h: np.ndarray, key: int, misc: np.ndarray, counter: int) -> int:
    """Slot of ``key``, inserting it with the next free slot number (misc[counter]) if absent."""
    mask = h.shape[0] - 1
    i = _hash(key, mask)
    while True:
        k = h[i, 0]
        if k == key:
            return h[i, 1]
        if k == EMPTY:
            h[i, 0] = key
            s = misc[counter]
            h[i, 1] = s
            misc[counter] = s + 1
            return s
        i = (i + 1) & mask


@numba.njit(cache=True)
def _rehash(h: np.ndarray, new: np.ndarray) -> None:
    mask = new.shape[0] - 1
    for j in range(h.shape[0]):
        if h[j, 0] == EMPTY:
            continue
        i = _hash(h[j, 0], mask)
        while new[i, 0] != EMPTY:
            i = (i + 1) & mask
        new[i, 0] = h[j, 0]
        new[i, 1] = h[j, 1]


@numba.njit(cache=True)
def _ec(ech, ecs, misc, ec_id: int) -> int:
    """Slot of an EC (created on first sight); -1 for the ids 0 (none) and -1 (unknown)."""
    if ec_id == 0 or ec_id == -1:
        return -1
    s = _get(ech, ec_id, misc, M_N_EC)
    ecs[s, E_ID] = ec_id
    return s


@numba.njit(cache=True)
def _ec_find(ech, ec_id: int) -> int:
    """Slot of a known EC, or -1."""
    if ec_id == 0 or ec_id == -1:
        return -1
    return _find(ech, ec_id)


@numba.njit(cache=True)
def _status(hc: int, ret_p0: int) -> int:
    if 0 <= ret_p0 <= ST_MAX:
        return ret_p0
    if hc == HC_IPC_CALL and (ret_p0 & NUMBER_MASK) == 0:
        return ST_SUCCESS
    return ST_INVALID


# interrupts ---------------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _occ_outcome(irqs, cpus, q: int, trace_end: bool) -> int:
    o = irqs
    lossy = cpus[o[q, Q_CPU], C_LOSS] != o[q, Q_LOSS_A]
    if o[q, Q_WAKE_CPU] >= 0 and cpus[o[q, Q_WAKE_CPU], C_LOSS] != o[q, Q_LOSS_W]:
        lossy = True
    if o[q, Q_UP_I] < 0:
        if trace_end and o[q, Q_IRQ] >= 0:
            return QO_PENDING
        if lossy:
            return QO_LOST
        return QO_NO_SEMAPHORE
    if o[q, Q_ARR_I] < 0:
        return QO_LOST
    if o[q, Q_CNT] == -1:
        return QO_DROPPED
    if o[q, Q_WOKEN] == 0:
        return QO_COALESCED if o[q, Q_CNT] >= 2 else QO_NO_WAITER
    if o[q, Q_RUN_I] >= 0:
        return QO_HANDLED
    if lossy:
        return QO_LOST
    return QO_PENDING if trace_end else QO_NOT_RUN


@numba.njit(cache=True)
def _close_occ(irqs, cpus, misc, out_irq, q: int, trace_end: bool) -> None:
    o = irqs
    if o[q, Q_OPEN] != 1:
        return
    o[q, Q_OUT] = _occ_outcome(irqs, cpus, q, trace_end)
    n = misc[M_N_QOUT]
    for j in range(Q_COLS):
        out_irq[n, j] = o[q, j]
    misc[M_N_QOUT] = n + 1
    o[q, Q_OPEN] = 0


@numba.njit(cache=True)
def _open_occ(irh, irqs, cpus, misc, out_irq, key: int, irq: int, cpu: int) -> int:
    """A new occurrence in the slot of ``key`` (the previous one there is closed)."""
    q = _get(irh, key, misc, M_N_IRQ)
    _close_occ(irqs, cpus, misc, out_irq, q, False)
    o = irqs
    for j in range(Q_N):
        o[q, j] = -1
    misc[M_GEN] += 1
    o[q, Q_OPEN] = 1
    o[q, Q_GEN] = misc[M_GEN]
    o[q, Q_IRQ] = irq
    o[q, Q_CPU] = cpu
    o[q, Q_LOSS_A] = cpus[cpu, C_LOSS]
    cpus[cpu, C_ARR_SLOT] = q
    cpus[cpu, C_ARR_GEN] = o[q, Q_GEN]
    return q


@numba.njit(cache=True)
def _cur_occ(irqs, cpus, cpu: int, irq: int) -> int:
    """The occurrence whose handler runs on ``cpu`` now, if it is about ``irq``; else -1."""
    q = cpus[cpu, C_ARR_SLOT]
    if q < 0 or irqs[q, Q_GEN] != cpus[cpu, C_ARR_GEN] or irqs[q, Q_OPEN] != 1:
        return -1
    if irqs[q, Q_IRQ] != irq:
        return -1
    return q


@numba.njit(cache=True)
def _end_action(irqs, cpus, misc, out_irq, cpu: int) -> None:
    """The handler on ``cpu`` is over: an occurrence that upped no semaphore is complete."""
    q = cpus[cpu, C_ARR_SLOT]
    if q >= 0 and irqs[q, Q_GEN] == cpus[cpu, C_ARR_GEN] and irqs[q, Q_UP_I] < 0:
        _close_occ(irqs, cpus, misc, out_irq, q, False)
    cpus[cpu, C_ARR_SLOT] = -1


@numba.njit(cache=True)
def _waiting_occ(ecs, irqs, e: int) -> int:
    """The open occurrence EC slot ``e`` was woken for, or -1."""
    if e < 0 or ecs[e, E_W_STATE] < 0:
        return -1
    q = ecs[e, E_W_SLOT]
    if irqs[q, Q_GEN] != ecs[e, E_W_GEN] or irqs[q, Q_OPEN] != 1:
        ecs[e, E_W_STATE] = -1
        return -1
    return q


# hypercalls and IPC -------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _emit_hc(ecs, misc, out_hc, e: int, exit_i: int, exit_t: int, ret: int, outcome: int) -> None:
    n = misc[M_N_HOUT]
    d, x = ecs, out_hc
    x[n, H_ENT_I] = d[e, E_H_I]
    x[n, H_ENT_T] = d[e, E_H_T]
    x[n, H_EXIT_I] = exit_i
    x[n, H_EXIT_T] = exit_t
    x[n, H_CPU] = d[e, E_H_CPU]
    x[n, H_EC] = d[e, E_ID]
    x[n, H_HC] = d[e, E_H_HC]
    x[n, H_P0] = d[e, E_H_P0]
    x[n, H_RET] = ret
    x[n, H_STATUS] = _status(d[e, E_H_HC], ret) if exit_i >= 0 else -1
    x[n, H_OUT] = outcome
    misc[M_N_HOUT] = n + 1
    d[e, E_H_I] = -1


@numba.njit(cache=True)
def _lost_since(cpus, cpu: int, mark: int) -> bool:
    return cpu >= 0 and cpus[cpu, C_LOSS] != mark


@numba.njit(cache=True)
def _emit_ipc(ech, ecs, cpus, misc, out_ipc, e: int, outcome: int) -> None:
    d = ecs
    unfinished = outcome in (PO_OPEN_AT_END, PO_UNMATCHED)
    if unfinished and _lost_since(cpus, d[e, E_P + P_CPU], d[e, E_P_LOSS]):
        outcome = PO_LOST
    d[e, E_P + P_OUT] = outcome
    n = misc[M_N_POUT]
    for j in range(P_COLS):
        out_ipc[n, j] = d[e, E_P + j]
    misc[M_N_POUT] = n + 1
    callee = _ec_find(ech, d[e, E_P + P_CALLEE])
    if callee >= 0 and d[callee, E_CALLER_OF] == d[e, E_ID]:
        d[callee, E_CALLER_OF] = -1
    d[e, E_P + P_CALL_I] = -1


@numba.njit(cache=True)
def _open_ipc(
    ech, ecs, cpus, misc, out_ipc, e: int, i: int, t: int, cpu: int, portal: int, via: int, event: int
) -> None:
    d = ecs
    if d[e, E_P + P_CALL_I] >= 0:
        _emit_ipc(ech, ecs, cpus, misc, out_ipc, e, PO_UNMATCHED)
    for j in range(P_COLS):
        d[e, E_P + j] = -1
    d[e, E_P + P_CALL_I] = i
    d[e, E_P + P_CALL_T] = t
    d[e, E_P + P_CPU] = cpu
    d[e, E_P + P_CALLER] = d[e, E_ID]
    d[e, E_P + P_PORTAL] = portal
    d[e, E_P + P_VIA] = via
    d[e, E_P + P_EVENT] = event
    d[e, E_P_LOSS] = cpus[cpu, C_LOSS]


@numba.njit(cache=True)
def _set_callee(ech, ecs, misc, e: int, callee_id: int) -> None:
    c = _ec(ech, ecs, misc, callee_id)
    if c < 0:
        return
    ecs[e, E_P + P_CALLEE] = callee_id
    ecs[c, E_CALLER_OF] = ecs[e, E_ID]


@numba.njit(cache=True)
def _open_event_ipc(ecs, e: int) -> bool:
    return e >= 0 and ecs[e, E_P + P_CALL_I] >= 0 and ecs[e, E_P + P_VIA] == VIA_EVENT


# the pass ------------------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _out_room(misc, out_hc) -> int:
    """Events that fit before an output buffer could overflow (one event adds at most 3 rows per table)."""
    out = out_hc.shape[0] - max(misc[M_N_QOUT], misc[M_N_HOUT], misc[M_N_POUT])
    return max(0, out // 3)


@numba.njit(cache=True)
def _run(
    st: State,
    ts: np.ndarray,
    cpu: np.ndarray,
    seq: np.ndarray,
    kind: np.ndarray,
    hc: np.ndarray,
    ec: np.ndarray,
    a0: np.ndarray,
    a1: np.ndarray,
    a2: np.ndarray,
    a3: np.ndarray,
    a4: np.ndarray,
    start: int,
    base: int,
) -> tuple[int, int]:
    """Consume events ``start..``; returns (next event, 0) or (where it stopped, NEED_ROOM)."""
    misc, cpus, ech, ecs, irh, irqs, out_irq, out_hc, out_ipc = st
    ncpu = cpus.shape[0]
    d = ecs
    o = irqs
    stop = min(len(ts), start + _out_room(misc, out_hc))
    ec_limit = min(ech.shape[0] // 2, ecs.shape[0]) - 4  # one event makes at most 4 ECs, 1 interrupt
    irq_limit = min(irh.shape[0] // 2, irqs.shape[0]) - 1
    for i in range(start, stop):
        if misc[M_N_EC] > ec_limit or misc[M_N_IRQ] > irq_limit:
            return i, NEED_ROOM
        c = np.int64(cpu[i])
        if c < 0 or c >= ncpu:
            continue
        k = np.int64(kind[i])
        g = base + i
        t = ts[i]
        # recorder loss: a sequence gap or a loss record counts once
        last = cpus[c, C_LAST_SEQ]
        if k == K_LOSS or (last >= 0 and seq[i] != last + 1):
            cpus[c, C_LOSS] += 1
        cpus[c, C_LAST_SEQ] = seq[i]
        if k in (K_HC_ENTRY, K_ARRIVAL, K_TIMEOUT, K_IPI_RECV) and cpus[c, C_ARR_SLOT] >= 0:
            _end_action(irqs, cpus, misc, out_irq, c)

        if k == K_HC_ENTRY:
            e = _ec(ech, ecs, misc, ec[i])
            code = np.int64(hc[i])
            cpus[c, C_HC_I] = g
            cpus[c, C_HC_T] = t
            cpus[c, C_HC_CODE] = code
            cpus[c, C_HC_EC] = ec[i]
            if e < 0:
                continue
            if d[e, E_H_I] >= 0:
                lost = _lost_since(cpus, d[e, E_H_CPU], d[e, E_H_LOSS])
                why = HO_NO_EXIT if misc[M_NO_EXITS] else HO_LOST if lost else HO_UNMATCHED_ENTRY
                _emit_hc(ecs, misc, out_hc, e, -1, -1, -1, why)
            d[e, E_H_I] = g
            d[e, E_H_T] = t
            d[e, E_H_CPU] = c
            d[e, E_H_HC] = code
            d[e, E_H_P0] = a0[i]
            d[e, E_H_LOSS] = cpus[c, C_LOSS]
            if code == HC_IPC_REPLY:
                _emit_hc(ecs, misc, out_hc, e, -1, -1, -1, HO_NO_EXIT)
                caller = _ec_find(ech, d[e, E_CALLER_OF])
                if caller >= 0 and d[caller, E_P + P_CALL_I] >= 0 and d[caller, E_P + P_REP_I] < 0:
                    d[caller, E_P + P_REP_I] = g
                    d[caller, E_P + P_REP_T] = t
                    d[caller, E_P + P_REPLIER] = ec[i]
                d[e, E_CALLER_OF] = -1
            elif code == HC_IPC_CALL:
                portal = (a0[i] >> SEL_SHIFT) & SEL_MASK
                _open_ipc(ech, ecs, cpus, misc, out_ipc, e, g, t, c, portal, VIA_CALL, -1)
            elif code == HC_CTRL_SM and ((a0[i] >> FLAGS_SHIFT) & FLAG_D) != 0:
                q = _waiting_occ(ecs, irqs, e)
                if q >= 0 and o[q, Q_ACK_I] < 0:
                    o[q, Q_ACK_I] = g
                    o[q, Q_ACK_T] = t
                    o[q, Q_ACK_EC] = ec[i]
                    d[e, E_W_STATE] = -1

        elif k == K_HC_EXIT:
            e = _ec(ech, ecs, misc, ec[i])
            if e < 0:
                continue
            if d[e, E_H_I] >= 0:
                code = d[e, E_H_HC]
                _emit_hc(ecs, misc, out_hc, e, g, t, a0[i], HO_COMPLETE)
            else:
                code = np.int64(hc[i])
                d[e, E_H_HC] = code
                d[e, E_H_CPU] = c
                d[e, E_H_T] = -1
                d[e, E_H_P0] = -1
                lost = cpus[c, C_LOSS] > 0
                _emit_hc(ecs, misc, out_hc, e, g, t, a0[i], HO_LOST if lost else HO_UNMATCHED_EXIT)
            if code == HC_IPC_CALL and d[e, E_P + P_CALL_I] >= 0 and d[e, E_P + P_VIA] == VIA_CALL:
                status = _status(code, a0[i])
                d[e, E_P + P_RET_I] = g
                d[e, E_P + P_RET_T] = t
                d[e, E_P + P_STATUS] = status
                if status == ST_SUCCESS:
                    _emit_ipc(ech, ecs, cpus, misc, out_ipc, e, PO_REPLIED)
                elif status == ST_ABORTED:
                    _emit_ipc(ech, ecs, cpus, misc, out_ipc, e, PO_ABORTED)
                else:
                    _emit_ipc(ech, ecs, cpus, misc, out_ipc, e, PO_FAILED)

        elif k == K_ARRIVAL:
            irq = a1[i]
            key = irq if irq >= 0 else NOIRQ_KEY - c
            q = _open_occ(irh, irqs, cpus, misc, out_irq, key, irq, c)
            o[q, Q_VEC] = a0[i]
            o[q, Q_SRC] = a2[i]
            o[q, Q_KIND] = a3[i]
            o[q, Q_EID] = a4[i]
            o[q, Q_ARR_I] = g
            o[q, Q_ARR_T] = t

        elif k in (K_MASK, K_EOI):
            if a2[i] != CAUSE_ARRIVAL:
                continue
            q = _cur_occ(irqs, cpus, c, a0[i])
            if q < 0:
                continue
            if k == K_MASK and o[q, Q_MASK_I] < 0:
                o[q, Q_MASK_I] = g
                o[q, Q_MASK_T] = t
            elif k == K_EOI and o[q, Q_EOI_I] < 0:
                o[q, Q_EOI_I] = g
                o[q, Q_EOI_T] = t

        elif k in (K_UNMASK, K_DEACT):
            cause = a2[i]
            if not (cause == CAUSE_DOWN or (k == K_DEACT and cause == CAUSE_GUEST)):
                continue
            irq = a0[i]
            q = _find(irh, irq) if irq >= 0 else -1
            if q < 0 or o[q, Q_OPEN] != 1 or o[q, Q_UNM_I] >= 0:
                continue
            o[q, Q_UNM_I] = g
            o[q, Q_UNM_T] = t
            o[q, Q_UNM_K] = k
            if o[q, Q_ACK_I] < 0 and cause == CAUSE_DOWN and cpus[c, C_HC_CODE] == HC_CTRL_SM:
                o[q, Q_ACK_I] = cpus[c, C_HC_I]
                o[q, Q_ACK_T] = cpus[c, C_HC_T]
                o[q, Q_ACK_EC] = cpus[c, C_HC_EC]
                w = _ec_find(ech, o[q, Q_WOKEN])
                if w >= 0 and _waiting_occ(ecs, irqs, w) == q:
                    d[w, E_W_STATE] = -1

        elif k == K_SM_UP:
            if a3[i] != UP_INTERRUPT:
                continue
            irq = a4[i]
            q = _cur_occ(irqs, cpus, c, irq)
            if q < 0 or o[q, Q_UP_I] >= 0:
                q = _open_occ(
                    irh, irqs, cpus, misc, out_irq, irq if irq >= 0 else NOIRQ_KEY - c, irq, c
                )  # its arrival was not recorded
            o[q, Q_UP_I] = g
            o[q, Q_UP_T] = t
            o[q, Q_SM] = a0[i]
            o[q, Q_CNT] = a1[i]
            o[q, Q_WOKEN] = a2[i]
            w = _ec(ech, ecs, misc, a2[i])
            if w >= 0:
                d[w, E_W_SLOT] = q
                d[w, E_W_GEN] = o[q, Q_GEN]
                d[w, E_W_STATE] = W_WOKEN

        elif k == K_EC_WAKE:
            w = _ec_find(ech, a0[i])
            q = _waiting_occ(ecs, irqs, w)
            if q >= 0 and o[q, Q_WAKE_I] < 0 and o[q, Q_SM] == a2[i]:
                o[q, Q_WAKE_I] = g
                o[q, Q_WAKE_T] = t
                tc = a3[i] if 0 <= a3[i] < ncpu else c
                o[q, Q_WAKE_CPU] = tc
                o[q, Q_LOSS_W] = cpus[tc, C_LOSS]

        elif k == K_SWITCH:
            from_id, to_id, reason = a0[i], a1[i], a4[i]
            w = _ec_find(ech, to_id)
            q = _waiting_occ(ecs, irqs, w)
            if q >= 0 and d[w, E_W_STATE] == W_WOKEN:
                o[q, Q_RUN_I] = g
                o[q, Q_RUN_T] = t
                d[w, E_W_STATE] = W_RAN
            if reason == SW_IPC_CALL:
                f = _ec_find(ech, from_id)
                if f >= 0 and d[f, E_P + P_CALL_I] >= 0 and d[f, E_P + P_SW_I] < 0:
                    d[f, E_P + P_SW_I] = g
                    d[f, E_P + P_SW_T] = t
                    _set_callee(ech, ecs, misc, f, to_id)
            elif reason in (SW_IPC_REPLY, SW_KILL) and _open_event_ipc(ecs, w):
                d[w, E_P + P_RET_I] = g
                d[w, E_P + P_RET_T] = t
                _emit_ipc(ech, ecs, cpus, misc, out_ipc, w, PO_REPLIED if reason == SW_IPC_REPLY else PO_ABORTED)

        elif k == K_EVENT:
            e = _ec(ech, ecs, misc, ec[i])
            if e < 0:
                continue
            if d[e, E_P + P_CALL_I] >= 0 and d[e, E_P + P_VIA] == VIA_EVENT and d[e, E_P + P_EVENT] == a0[i]:
                continue  # delivered again after helping: the same IPC
            _open_ipc(ech, ecs, cpus, misc, out_ipc, e, g, t, c, a3[i], VIA_EVENT, a0[i])
            _set_callee(ech, ecs, misc, e, a1[i])

        elif k == K_KILL:
            e = _ec_find(ech, a0[i])
            if e < 0:
                continue
            if d[e, E_H_I] >= 0:
                _emit_hc(ecs, misc, out_hc, e, -1, -1, -1, HO_KILLED)
            if d[e, E_P + P_CALL_I] >= 0:
                _emit_ipc(ech, ecs, cpus, misc, out_ipc, e, PO_ABORTED)
    return stop, 0 if stop == len(ts) else NEED_ROOM


@numba.njit(cache=True)
def _finish(st: State) -> None:
    """End of trace: every open occurrence, hypercall and IPC becomes a row."""
    misc, cpus, ech, ecs, _, irqs, out_irq, out_hc, out_ipc = st
    for q in range(misc[M_N_IRQ]):
        _close_occ(irqs, cpus, misc, out_irq, q, True)
    d = ecs
    for e in range(misc[M_N_EC]):
        if d[e, E_H_I] >= 0:
            lost = _lost_since(cpus, d[e, E_H_CPU], d[e, E_H_LOSS])
            why = HO_NO_EXIT if misc[M_NO_EXITS] else HO_LOST if lost else HO_OPEN_AT_END
            _emit_hc(ecs, misc, out_hc, e, -1, -1, -1, why)
        if d[e, E_P + P_CALL_I] >= 0:
            _emit_ipc(ech, ecs, cpus, misc, out_ipc, e, PO_OPEN_AT_END)


# --- Python side -----------------------------------------------------------------------------------------------


class Tables(NamedTuple):
    interrupts: pl.DataFrame
    hypercalls: pl.DataFrame
    ipc: pl.DataFrame


_NARROW = {"cpu": np.int16, "irq_kind": np.int8, "unmask_kind": np.int8, "hc": np.int16, "via": np.int8}


_TABLES = (  # name, output columns, outcome enum, sort key (first step, fallback), buffer, row counter
    ("irq", IRQ_COLUMNS, IrqOutcome, ("arrival_idx", "up_idx"), "out_irq", M_N_QOUT),
    ("hc", HC_COLUMNS, HcOutcome, ("entry_idx", "exit_idx"), "out_hc", M_N_HOUT),
    ("ipc", IPC_COLUMNS, IpcOutcome, ("call_idx", "call_idx"), "out_ipc", M_N_POUT),
)


class TableBuilder:
    """Streaming derivation: ``feed`` batches in file order, then ``finish`` for the DataFrames.

    Finished rows leave the kernel's output buffers as small DataFrames with narrow types (``_chunk``), so
    the int64 buffers never hold more than ``out_rows`` rows.
    """

    def __init__(
        self, cpus: int, exits: bool = True, ec_cap: int = 256, irq_cap: int = 256, out_rows: int = OUT_ROWS
    ) -> None:
        """``exits=False``: the trace's source records no HC_EXIT (a console import, FORMAT.md 9)."""
        self.st = new_state(cpus, ec_cap, irq_cap, out_rows)
        self.st.misc[M_NO_EXITS] = 0 if exits else 1
        self.events = 0
        self._chunks: dict[str, list[pl.DataFrame]] = {"irq": [], "hc": [], "ipc": []}
        self._raw: dict[str, list[np.ndarray]] = {"irq": [], "hc": [], "ipc": []}  # rows not yet in a chunk

    def feed(self, b: EventBatch) -> None:
        cols = [np.ascontiguousarray(c) for c in b]
        start = 0
        while True:
            start, status = _run(self.st, *cols, start, self.events)
            if status != NEED_ROOM:
                break
            self._make_room()
        self.events += b.n

    def finish(self) -> Tables:
        st = self.st
        self._drain()
        need = int(st.misc[M_N_IRQ] + st.misc[M_N_EC]) + 8
        if need > st.out_hc.shape[0]:
            self.st = st = st._replace(
                out_irq=np.full((need, len(IRQ_COLUMNS)), -1, dtype=np.int64),
                out_hc=np.full((need, len(HC_COLUMNS)), -1, dtype=np.int64),
                out_ipc=np.full((need, len(IPC_COLUMNS)), -1, dtype=np.int64),
            )
        _finish(st)
        self._drain(final=True)
        frames = {}
        for name, columns, outcome, (first, alt), _, _ in _TABLES:
            chunks = self._chunks.pop(name) or [_chunk(np.zeros((0, len(columns)), np.int64), columns, outcome)]
            df = pl.concat(chunks)
            del chunks
            frames[name] = df.sort(pl.coalesce(first, alt), nulls_last=True, maintain_order=True)
        no_exit = pl.col("exit_idx").is_null()
        return Tables(
            interrupts=frames["irq"].with_columns(
                (pl.col("running_ts") - pl.col("arrival_ts")).alias("arrival_to_running")
            ),
            hypercalls=frames["hc"]
            .with_columns(pl.when(no_exit).then(None).otherwise(pl.col(c)).alias(c) for c in ("ret_p0", "status"))
            .with_columns((pl.col("exit_ts") - pl.col("entry_ts")).alias("duration")),
            ipc=frames["ipc"].with_columns(
                pl.when(pl.col("status") == -1).then(None).otherwise(pl.col("status")).alias("status"),
                (pl.col("return_ts") - pl.col("call_ts")).alias("round_trip"),
            ),
        )

    # room: drain the output buffers, double the hash tables
    def _drain(self, final: bool = False) -> None:
        """Copy the finished rows out; every ~32 MB of them become one DataFrame chunk (fewer, larger chunks:
        converting a chunk costs about a millisecond however small it is)."""
        st = self.st
        for name, columns, outcome, _, buffer, counter in _TABLES:
            n = int(st.misc[counter])
            raw = self._raw[name]
            if n:
                raw.append(getattr(st, buffer)[:n].copy())
                st.misc[counter] = 0
            if raw and (final or sum(r.nbytes for r in raw) >= CHUNK_BYTES):
                self._chunks[name].append(_chunk(np.concatenate(raw), columns, outcome))
                raw.clear()

    def _make_room(self) -> None:
        self._drain()
        st = self.st
        if 2 * (st.misc[M_N_EC] + 4) > st.ech.shape[0] or st.misc[M_N_EC] + 4 > st.ecs.shape[0]:
            st = st._replace(**dict(zip(("ech", "ecs"), _grow(st.ech, st.ecs), strict=True)))
        if 2 * (st.misc[M_N_IRQ] + 1) > st.irh.shape[0] or st.misc[M_N_IRQ] + 1 > st.irqs.shape[0]:
            st = st._replace(**dict(zip(("irh", "irqs"), _grow(st.irh, st.irqs), strict=True)))
        self.st = st


def _grow(h: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Twice the room: the hash table rehashed, the slot data copied."""
    new_h = _empty_hash(2 * h.shape[0])
    _rehash(h, new_h)
    new_data = np.full((2 * data.shape[0], data.shape[1]), -1, dtype=np.int64)
    new_data[: data.shape[0]] = data
    return new_h, new_data


def _chunk(data: np.ndarray, columns: tuple[str, ...], outcome: type[IntEnum]) -> pl.DataFrame:
    """Output rows as a DataFrame: -1 in *_idx / *_ts columns become nulls, outcome an Enum of names."""
    names = [m.name.lower() for m in outcome]
    arrays = []
    for j, name in enumerate(columns):
        v = np.ascontiguousarray(data[:, j]).astype(_NARROW.get(name, np.int64))  # a copy, never a buffer view
        arrays.append(pa.array(v, mask=v == -1 if name.endswith(("_idx", "_ts")) else None))
    df = pl.from_arrow(pa.table(arrays, names=list(columns)))
    assert isinstance(df, pl.DataFrame)
    return df.with_columns(pl.col("outcome").replace_strict(dict(enumerate(names)), return_dtype=pl.Enum(names)))


def derive_tables(cpus: int, batches: EventBatch | Iterable[EventBatch], exits: bool = True) -> Tables:
    """The three tables of a trace (``cpus`` = platform.cpus; ``exits`` as for ``TableBuilder``)."""
    tb = TableBuilder(cpus, exits)
    for b in [batches] if isinstance(batches, EventBatch) else batches:
        tb.feed(b)
    return tb.finish()
