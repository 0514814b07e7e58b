"""The steady state: one numba kernel that writes interrupt cycles, IPC, preemption, timeouts and IPIs.

It picks the CPU that becomes idle first and runs one *episode* there (an interrupt cycle, a client's
request, a preemption, the root's bookkeeping ...), which may continue on another CPU (a remote wake through
an RRQ IPI). Every episode starts and ends with the CPU idle and every driver blocked on its semaphore, so the
kernel state it implies is simple to keep right; faults are injected inside episodes and reported into a
label buffer. Events come out in generation order, per CPU in (ts, seq) order; the caller merges them into
global time order (:mod:`synth.run`). All state lives in the arrays passed in, so a batch ends after any
episode and the next call continues exactly where it stopped (same output for any batch size).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tracefmt.events import (
    IrqCause,
    KillReason,
    Kind,
    MarkerType,
    SwitchReason,
    TimeoutKind,
    UpCause,
    WakeReason,
)
from tracefmt.nova import Ipi, Status

# params (int64 array) indices
P_MODE, P_NCPU, P_N_CTRL_SM, P_N_IPC_CALL, P_N_IPC_REPLY, P_N_CTRL_PD, P_N_CTRL_SC = 0, 1, 2, 3, 4, 5, 6
P_N_ASSIGN_INT, P_N_CREATE_SC, P_GAP, P_WORK, P_IDLE, P_PERIOD, P_ROOT_PERIOD = 7, 8, 9, 10, 11, 12, 13
P_X86, P_UNIT, P_LOSS_AT, P_MIN_LOSSES, P_TARGET, P_ROOT_SC_SEL, P_EMPTY_SEL, P_ROOT_PD_SEL = (
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
)
P_VECS, P_AUX_VEC, P_CAP = 22, 23, 24
N_PARAMS = 25
# rates (float64 array) indices
R_PREEMPT, R_STORM, R_RKE, R_LOST, R_MISROUTE, R_LATENCY, R_LOSS, R_DIVERGENCE, R_EXPECT = 0, 1, 2, 3, 4, 5, 6, 7, 8
N_RATES = 9
# counters (int64 array) indices
C_ROWS, C_TOTAL, C_LABELS, C_LOSSES, C_EPISODES, C_SCRATCH = 0, 1, 2, 3, 4, 5
MARGIN = 4096  # rows one episode may write at most (incl. its remote part)
MODE_X86_2024, MODE_ARM_2024, MODE_2026 = 0, 1, 2
ACK_NONE, ACK_UNMASK = 0, 1

K_HC_ENTRY, K_HC_EXIT, K_ARRIVAL = int(Kind.HC_ENTRY), int(Kind.HC_EXIT), int(Kind.IRQ_ARRIVAL)
K_MASK, K_UNMASK, K_EOI, K_DEACT = int(Kind.IRQ_MASK), int(Kind.IRQ_UNMASK), int(Kind.IRQ_EOI), int(Kind.IRQ_DEACTIVATE)
K_UP, K_BLOCK, K_WAKE, K_SWITCH = int(Kind.SM_UP), int(Kind.SM_BLOCK), int(Kind.EC_WAKE), int(Kind.SCHED_SWITCH)
K_IPI_SEND, K_IPI_RECV, K_FAULT, K_TIMEOUT = (
    int(Kind.IPI_SEND),
    int(Kind.IPI_RECV),
    int(Kind.INTR_FAULT),
    int(Kind.TIMEOUT),
)
K_LOSS, K_MARKER, K_KILL = int(Kind.RECORDER_LOSS), int(Kind.MARKER), int(Kind.EC_KILL)
SW_BLOCK, SW_PREEMPT, SW_IPC_CALL = int(SwitchReason.BLOCK), int(SwitchReason.PREEMPT), int(SwitchReason.IPC_CALL)
SW_IPC_REPLY, SW_KILL, SW_WAKE = int(SwitchReason.IPC_REPLY), int(SwitchReason.KILL), int(SwitchReason.WAKE)
CAUSE_ARRIVAL, CAUSE_DOWN = int(IrqCause.ARRIVAL), int(IrqCause.DOWN)
UP_HC, UP_IRQ = int(UpCause.HYPERCALL), int(UpCause.INTERRUPT)
WK_SM_UP, WK_TIMEOUT = int(WakeReason.SM_UP), int(WakeReason.TIMEOUT)
TO_HC, TO_BUDGET = int(TimeoutKind.HYPERCALL), int(TimeoutKind.BUDGET)
RRQ, RKE = int(Ipi.RRQ), int(Ipi.RKE)
ST_OK, ST_TIMEOUT, ST_ABORTED = int(Status.SUCCESS), int(Status.TIMEOUT), int(Status.ABORTED)
ST_BAD_CAP, ST_BAD_PAR, ST_BAD_CPU = int(Status.BAD_CAP), int(Status.BAD_PAR), int(Status.BAD_CPU)
M_EXPECT = int(MarkerType.EXPECT_IRQ)
KILL_PT = int(KillReason.PT_NOT_FOUND)
FLAG_D = 1  # ctrl_sm down
# fault codes (synth.faults.FAULTS)
F_NEVER, F_EDGE_MASKED, F_NEVER_UNMASKED, F_LOST_WRONG_CPU, F_WRONG_CPU, F_BAD_SOURCE, F_UNASSIGNED = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
)
F_PREEMPTED, F_BUDGET, F_STORM, F_LOSS, F_STATUS, F_MISSING_WAKE, F_WRONG_WAKE = 8, 9, 10, 11, 12, 13, 14
F_STALE = 15


# per-CPU generator state: G[cpu, field]
G_CLOCK, G_FREE, G_SEQ, G_DROP, G_LOST_N, G_LFSEQ, G_LFTS, G_LLTS = 0, 1, 2, 3, 4, 5, 6, 7
G_PEND, G_LAB, G_LP0, G_LP1, G_LP2, G_BUSY = 8, 9, 10, 11, 12, 13
N_G = 14
# channel table: CH[k, field] (G_ALIVE, CH_COUNT change while generating)
CH_CPU, CH_IRQ, CH_VEC, CH_KIND, CH_SRC, CH_EID, CH_EC, CH_SC, CH_SM, CH_SEL = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
CH_PRIO, CH_ACK, CH_MASK, CH_WIRED, CH_ALIVE, CH_COUNT = 10, 11, 12, 13, 14, 15
CH_ROUTE, CH_DC, CH_IDX, CH_CFG, CH_VIDX, CH_OUT1, CH_OUT2, CH_OLD_ROUTE, CH_OLD_VEC = (
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    24,
)
N_CH = 25
# per-CPU objects: CP[cpu, field]
CP_IDLE_EC, CP_IDLE_SC, CP_CL_EC, CP_CL_SC, CP_CL_SM, CP_CL_SEL, CP_CL_DL, CP_SRV, CP_PORTAL = range(9)
N_CP = 9
# root: R_EC.. in the root array
RT_EC, RT_SC, RT_SM, RT_SEL, RT_DEADLINE, RT_HST, RT_SRV_HST, RT_CONSUMED = range(8)
# output: OUT[column, i] (column-major: each column contiguous)
O_TS, O_CPU, O_SEQ, O_KIND, O_EC, O_A0 = 0, 1, 2, 3, 4, 5
OUT_COLUMNS = ("ts", "cpu", "seq", "kind", "ec", "a0", "a1", "a2", "a3", "a4")
# labels: L[i, field]
L_CODE, L_TS, L_CPU, L_SEQ, L_KIND, L_SUBJECT, L_P0, L_P1 = range(8)
N_L = 8
S_SPARE = 16  # S[S_SPARE + j]: counter of unassigned interrupt semaphore j


def new_state(ncpu: int, seed: int, first_ts: int, first_seq: np.ndarray, nspare: int) -> tuple[np.ndarray, ...]:
    """(G, S, rng): generator state after the control plane; time and sequence numbers continue from it."""
    G = np.zeros((ncpu, N_G), dtype=np.int64)
    G[:, G_CLOCK] = first_ts
    G[:, G_FREE] = first_ts
    G[:, G_SEQ] = first_seq
    G[:, G_PEND] = -1
    S = np.zeros(S_SPARE + max(1, nspare), dtype=np.int64)
    state = ((seed * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF) | 1
    return G, S, np.array([state], dtype=np.uint64)


# Explicit signatures: one compiled version per function whatever literal arguments a call site passes
# (without them numba specialises callees per argument type and the compile time explodes).
_A2, _A1 = "int64[:, ::1]", "int64[::1]"
_TYPES = {"OUT": _A2, "G": _A2, "L": _A2, "CH": _A2, "CP": _A2, "SP": _A2, "S": _A1, "P": _A1, "AUX": _A1,
          "RT": _A1, "rng": "uint64[::1]", "R": "float64[::1]", "p": "float64", "wake": "boolean",
          "skip_wake": "boolean", "edge_only": "boolean", "delayed": "boolean"}  # fmt: skip


def _sig(ret: str, params: str) -> str:
    return f"{ret}({', '.join(_TYPES.get(name, 'int64') for name in params.split())})"


# --- primitives -------------------------------------------------------------------------------------------------
# Every function takes plain int64 arrays (fast to compile): OUT rows, G per-CPU state, S scalars, rng, L labels,
# P params, R rates, CH channels, CP per-CPU objects, AUX (channel index by CPU, vector use), RT root, SP spares.


@njit(_sig("int64", "rng"), cache=True)
def _rnd(rng):
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return np.int64((x * np.uint64(2685821657736338717)) >> np.uint64(2))


@njit(_sig("int64", "rng n"), cache=True)
def _below(rng, n):
    """Uniform integer in 0 .. n-1."""
    return _rnd(rng) % n


@njit(_sig("boolean", "rng p"), cache=True)
def _chance(rng, p):
    return p > 0.0 and (_rnd(rng) % 1_000_000) < p * 1_000_000.0


@njit(_sig("void", "S L code cpu seq kind subject p0 p1"), cache=True)
def _label(S, L, code, cpu, seq, kind, subject, p0, p1):
    i = S[C_LABELS]
    if i >= L.shape[0]:
        return
    L[i, L_CODE] = code
    L[i, L_TS] = -1
    L[i, L_CPU] = cpu
    L[i, L_SEQ] = seq
    L[i, L_KIND] = kind
    L[i, L_SUBJECT] = subject
    L[i, L_P0] = p0
    L[i, L_P1] = p1
    S[C_LABELS] = i + 1


@njit(_sig("void", "OUT S ts cpu seq kind ec a0 a1 a2 a3 a4"), cache=True)
def _row(OUT, S, ts, cpu, seq, kind, ec, a0, a1, a2, a3, a4):
    i = S[C_ROWS]
    OUT[0, i] = ts
    OUT[1, i] = cpu
    OUT[2, i] = seq
    OUT[3, i] = kind
    OUT[4, i] = ec
    OUT[5, i] = a0
    OUT[6, i] = a1
    OUT[7, i] = a2
    OUT[8, i] = a3
    OUT[9, i] = a4
    S[C_ROWS] = i + 1
    S[C_TOTAL] += 1


@njit(_sig("int64", "OUT G S rng L P c kind ec a0 a1 a2 a3 a4"), cache=True)
def _emit(OUT, G, S, rng, L, P, c, kind, ec, a0, a1, a2, a3, a4):
    """Record one event on CPU c at its clock (or drop it: recorder loss); returns its seq (-1 dropped)."""
    ts = G[c, G_CLOCK]
    G[c, G_CLOCK] = ts + 1 + _below(rng, P[P_GAP])
    seq = G[c, G_SEQ]
    G[c, G_SEQ] = seq + 1
    if G[c, G_DROP] > 0:
        if G[c, G_LOST_N] == 0:
            G[c, G_LFSEQ] = seq
            G[c, G_LFTS] = ts
        G[c, G_LOST_N] += 1
        G[c, G_LLTS] = ts
        G[c, G_DROP] -= 1
        return -1
    if G[c, G_LOST_N] > 0:  # the recorder writes its loss record first, with the next number
        n = G[c, G_LOST_N]
        _row(OUT, S, ts, c, seq, K_LOSS, ec, n, G[c, G_LFTS], G[c, G_LLTS], G[c, G_LFSEQ], 0)
        _label(S, L, F_LOSS, c, seq, K_LOSS, c, n, G[c, G_LFSEQ])
        G[c, G_LOST_N] = 0
        seq = G[c, G_SEQ]
        G[c, G_SEQ] = seq + 1
    _row(OUT, S, ts, c, seq, kind, ec, a0, a1, a2, a3, a4)
    if G[c, G_LAB] != 0:
        _label(S, L, G[c, G_LAB], c, seq, kind, G[c, G_LP0], G[c, G_LP1], G[c, G_LP2])
        G[c, G_LAB] = 0
    return seq


@njit(_sig("void", "G rng P c scale"), cache=True)
def _work(G, rng, P, c, scale):
    G[c, G_CLOCK] += 1 + _below(rng, P[P_WORK] * scale)


@njit(_sig("int64", "sel flags number"), cache=True)
def _word(sel, flags, number):
    return sel << 8 | flags << 4 | number


# --- interrupts -------------------------------------------------------------------------------------------------


@njit(_sig("int64", "OUT G S rng L P CH c k cur wake woken skip_wake"), cache=True)
def _arrive(OUT, G, S, rng, L, P, CH, c, k, cur, wake, woken, skip_wake):
    """The kernel's interrupt path on CPU c for channel k (FORMAT.md 4.4); returns the arrival's seq.

    ``wake``: the driver is blocked on the semaphore (the SM_UP names ``woken``); else the counter goes up.
    """
    mode = P[P_MODE]
    irq, kind = CH[k, CH_IRQ], CH[k, CH_KIND]
    s = _emit(OUT, G, S, rng, L, P, c, K_ARRIVAL, cur, CH[k, CH_VEC], irq, CH[k, CH_SRC], kind, CH[k, CH_EID])
    if mode == MODE_X86_2024 and CH[k, CH_MASK] == 1:
        _emit(OUT, G, S, rng, L, P, c, K_MASK, cur, irq, kind, CAUSE_ARRIVAL, 0, 0)
    if mode == MODE_ARM_2024:
        _emit(OUT, G, S, rng, L, P, c, K_EOI, cur, irq, kind, CAUSE_ARRIVAL, 0, 0)
    if wake:
        S[C_SCRATCH] = _emit(OUT, G, S, rng, L, P, c, K_UP, cur, CH[k, CH_SM], CH[k, CH_COUNT], woken, UP_IRQ, irq)
        if skip_wake:  # divergence: the wake is missing; replay notices at this CPU's next record
            G[c, G_LAB] = F_MISSING_WAKE
            G[c, G_LP0] = irq
            G[c, G_LP1] = woken
            G[c, G_LP2] = S[C_SCRATCH]
        else:
            _emit(OUT, G, S, rng, L, P, c, K_WAKE, cur, woken, WK_SM_UP, CH[k, CH_SM], CH[k, CH_CPU], 0)
        if CH[k, CH_CPU] != c:
            _emit(OUT, G, S, rng, L, P, c, K_IPI_SEND, cur, CH[k, CH_CPU], RRQ, 0, 0, 0)
    else:
        CH[k, CH_COUNT] += 1
        _emit(OUT, G, S, rng, L, P, c, K_UP, cur, CH[k, CH_SM], CH[k, CH_COUNT], 0, UP_IRQ, irq)
    if mode != MODE_ARM_2024:
        _emit(OUT, G, S, rng, L, P, c, K_EOI, cur, irq, kind, CAUSE_ARRIVAL, 0, 0)
    return s


@njit(_sig("int64", "OUT G S rng L P c from_ec from_sc ec sc why status"), cache=True)
def _wake_run(OUT, G, S, rng, L, P, c, from_ec, from_sc, ec, sc, why, status):
    """CPU c switches to the released EC, which returns from its ctrl_sm (HC_EXIT)."""
    _emit(OUT, G, S, rng, L, P, c, K_SWITCH, ec, from_ec, ec, from_sc, sc, why)
    return _emit(OUT, G, S, rng, L, P, c, K_HC_EXIT, ec, status, 0, 0, 0, P[P_N_CTRL_SM])


@njit(_sig("void", "OUT G S rng L P CH c k to_ec to_sc"), cache=True)
def _down_loop(OUT, G, S, rng, L, P, CH, c, k, to_ec, to_sc):
    """The driver acknowledges and waits again: down (returning at once while the counter is > 0), block."""
    drv, dsc = CH[k, CH_EC], CH[k, CH_SC]
    while True:
        _emit(OUT, G, S, rng, L, P, c, K_HC_ENTRY, drv, _word(CH[k, CH_SEL], FLAG_D, P[P_N_CTRL_SM]), 0, 0, 0, 0)
        if CH[k, CH_ACK] == ACK_UNMASK:
            _emit(OUT, G, S, rng, L, P, c, K_UNMASK, drv, CH[k, CH_IRQ], CH[k, CH_KIND], CAUSE_DOWN, 0, 0)
        elif CH[k, CH_ACK] != ACK_NONE:
            _emit(OUT, G, S, rng, L, P, c, K_DEACT, drv, CH[k, CH_IRQ], CH[k, CH_KIND], CAUSE_DOWN, 0, 0)
        if CH[k, CH_COUNT] > 0:
            CH[k, CH_COUNT] -= 1
            _emit(OUT, G, S, rng, L, P, c, K_HC_EXIT, drv, ST_OK, 0, 0, 0, P[P_N_CTRL_SM])
            _work(G, rng, P, c, 1)
            continue
        _emit(OUT, G, S, rng, L, P, c, K_BLOCK, drv, CH[k, CH_SM], 0, dsc, 0, 0)
        _emit(OUT, G, S, rng, L, P, c, K_SWITCH, to_ec, drv, to_ec, dsc, to_sc, SW_BLOCK)
        return


@njit(_sig("int64", "G rng CH AUX c edge_only"), cache=True)
def _pick(G, rng, CH, AUX, c, edge_only):
    """A random live channel of CPU c (-1 if none after a few tries)."""
    lo, hi = AUX[c], AUX[c + 1]
    if hi == lo:
        return -1
    base = G.shape[0] + 1  # AUX = CPU index (ncpu + 1), channels by CPU, vector use (synth.run.arrays)
    for _ in range(8):
        k = AUX[base + lo + _below(rng, hi - lo)]
        if CH[k, CH_ALIVE] == 1 and G[c, G_PEND] != k and (not edge_only or CH[k, CH_WIRED] == 0):
            return k
    return -1


@njit(_sig("int64", "G rng CH c"), cache=True)
def _pick_remote(G, rng, CH, c):
    """A live channel routed to another CPU that is idle now (for deliveries to the wrong CPU)."""
    n = CH.shape[0]
    for _ in range(8):
        k = _below(rng, n)
        d = CH[k, CH_CPU]
        idle = G[d, G_FREE] <= G[c, G_CLOCK] and G[d, G_DROP] == 0
        if d != c and CH[k, CH_ROUTE] != c and idle and CH[k, CH_ALIVE] == 1 and G[d, G_PEND] != k:
            return k
    return -1


@njit(_sig("void", "OUT G S rng L P R CH CP AUX c k fault"), cache=True)
def _irq_cycle(OUT, G, S, rng, L, P, R, CH, CP, AUX, c, k, fault):
    """An interrupt for channel k arrives on its idle CPU; the driver runs, acknowledges and waits again.

    ``fault``: 0 none, or one of the lost / latency / divergence codes handled here.
    """
    drv, dsc = CH[k, CH_EC], CH[k, CH_SC]
    idle, isc = CP[c, CP_IDLE_EC], CP[c, CP_IDLE_SC]
    woken = drv
    victim = -1
    if fault == F_WRONG_WAKE:
        victim = _pick(G, rng, CH, AUX, c, False)
        if victim == k or victim < 0:
            fault = 0
        else:
            woken = CH[victim, CH_EC]
    s = _arrive(OUT, G, S, rng, L, P, CH, c, k, idle, True, woken, fault == F_MISSING_WAKE)
    if fault == F_WRONG_WAKE:
        CH[victim, CH_ALIVE] = 0  # its driver never sees an interrupt again (the kernel released it)
        _label(S, L, F_WRONG_WAKE, c, S[C_SCRATCH], K_UP, CH[k, CH_IRQ], drv, woken)
    status = ST_ABORTED if fault == F_STATUS else ST_OK
    e = _wake_run(OUT, G, S, rng, L, P, c, idle, isc, drv, dsc, SW_WAKE, status)
    if fault == F_STATUS:
        _label(S, L, F_STATUS, c, e, K_HC_EXIT, CH[k, CH_IRQ], ST_OK, status)
    _work(G, rng, P, c, 1)
    if fault == F_BUDGET:
        ran = P[P_WORK] * (20 + _below(rng, 40))
        G[c, G_CLOCK] += ran
        t = G[c, G_CLOCK]
        s2 = _emit(OUT, G, S, rng, L, P, c, K_TIMEOUT, drv, TO_BUDGET, dsc, t, 0, 0)
        _label(S, L, F_BUDGET, c, s2, K_TIMEOUT, CH[k, CH_IRQ], dsc, ran)
        _work(G, rng, P, c, 4)
    if fault == F_NEVER_UNMASKED:
        s2 = _emit(OUT, G, S, rng, L, P, c, K_KILL, drv, drv, KILL_PT, 0, 0, 0)
        _emit(OUT, G, S, rng, L, P, c, K_SWITCH, idle, drv, idle, dsc, isc, SW_KILL)
        CH[k, CH_ALIVE] = 0
        _label(S, L, F_NEVER_UNMASKED, c, s2, K_KILL, CH[k, CH_IRQ], 0, 0)
        return
    lost = fault in (F_NEVER, F_EDGE_MASKED)
    if lost or _chance(rng, R[R_EXPECT]):
        by = G[c, G_CLOCK] + P[P_PERIOD]
        s2 = _emit(OUT, G, S, rng, L, P, c, K_MARKER, drv, M_EXPECT, CH[k, CH_IRQ], by, -1, 0)
        if lost:
            CH[k, CH_ALIVE] = 0
            _label(S, L, fault, c, s2, K_MARKER, CH[k, CH_IRQ], by if fault == F_NEVER else s, 0)
        else:
            G[c, G_PEND] = k
    _down_loop(OUT, G, S, rng, L, P, CH, c, k, idle, isc)


@njit(_sig("void", "OUT G S rng L P CH CP c k"), cache=True)
def _storm_cycle(OUT, G, S, rng, L, P, CH, CP, c, k):
    """An edge-triggered device fires again and again while its driver still runs: the semaphore counts up."""
    drv, dsc = CH[k, CH_EC], CH[k, CH_SC]
    idle, isc = CP[c, CP_IDLE_EC], CP[c, CP_IDLE_SC]
    _arrive(OUT, G, S, rng, L, P, CH, c, k, idle, True, drv, False)
    _wake_run(OUT, G, S, rng, L, P, c, idle, isc, drv, dsc, SW_WAKE, ST_OK)
    for _ in range(1 + _below(rng, 6)):
        _work(G, rng, P, c, 1)
        _arrive(OUT, G, S, rng, L, P, CH, c, k, drv, False, 0, False)
    _down_loop(OUT, G, S, rng, L, P, CH, c, k, idle, isc)


@njit(_sig("void", "OUT G S rng L P CH CP c ka kb delayed fault"), cache=True)
def _two_drivers(OUT, G, S, rng, L, P, CH, CP, c, ka, kb, delayed, fault):
    """Two drivers of one CPU: the lower one is preempted (delayed=False) or waits for the higher (True)."""
    lo, hi = (ka, kb) if CH[ka, CH_PRIO] < CH[kb, CH_PRIO] else (kb, ka)
    idle, isc = CP[c, CP_IDLE_EC], CP[c, CP_IDLE_SC]
    first, second = (hi, lo) if delayed else (lo, hi)
    _arrive(OUT, G, S, rng, L, P, CH, c, first, idle, True, CH[first, CH_EC], False)
    _wake_run(OUT, G, S, rng, L, P, c, idle, isc, CH[first, CH_EC], CH[first, CH_SC], SW_WAKE, ST_OK)
    _work(G, rng, P, c, 1)
    s = _arrive(OUT, G, S, rng, L, P, CH, c, second, CH[first, CH_EC], True, CH[second, CH_EC], False)
    t_arrival = G[c, G_CLOCK]
    lo_ec, lo_sc, hi_ec, hi_sc = CH[lo, CH_EC], CH[lo, CH_SC], CH[hi, CH_EC], CH[hi, CH_SC]
    if not delayed:  # the higher driver preempts the lower one, runs, blocks; the lower continues
        _wake_run(OUT, G, S, rng, L, P, c, lo_ec, lo_sc, hi_ec, hi_sc, SW_PREEMPT, ST_OK)
        _work(G, rng, P, c, 1)
        _down_loop(OUT, G, S, rng, L, P, CH, c, hi, lo_ec, lo_sc)
        _work(G, rng, P, c, 1)
        _down_loop(OUT, G, S, rng, L, P, CH, c, lo, idle, isc)
        return
    _work(G, rng, P, c, 1)
    if fault == F_PREEMPTED:
        G[c, G_CLOCK] += P[P_WORK] * (50 + _below(rng, 200))
        _label(S, L, F_PREEMPTED, c, s, K_ARRIVAL, CH[lo, CH_IRQ], G[c, G_CLOCK] - t_arrival, hi_ec)
    _down_loop(OUT, G, S, rng, L, P, CH, c, hi, lo_ec, lo_sc)
    _emit(OUT, G, S, rng, L, P, c, K_HC_EXIT, lo_ec, ST_OK, 0, 0, 0, P[P_N_CTRL_SM])
    _work(G, rng, P, c, 1)
    _down_loop(OUT, G, S, rng, L, P, CH, c, lo, idle, isc)


@njit(_sig("int64", "OUT G S rng L P CH CP c k"), cache=True)
def _remote_delivery(OUT, G, S, rng, L, P, CH, CP, c, k):
    """Channel k's interrupt is delivered to CPU c, not to its routed (idle) CPU: the kernel ups the semaphore
    here and wakes the driver there through an RRQ IPI (nova-2024, Arm nova-2026)."""
    d = CH[k, CH_CPU]
    s = _arrive(OUT, G, S, rng, L, P, CH, c, k, CP[c, CP_IDLE_EC], True, CH[k, CH_EC], False)
    G[d, G_CLOCK] = max(G[c, G_CLOCK], G[d, G_FREE]) + 1 + _below(rng, P[P_GAP] * 8)
    _emit(OUT, G, S, rng, L, P, d, K_IPI_RECV, CP[d, CP_IDLE_EC], c, RRQ, 0, 0, 0)
    _wake_run(OUT, G, S, rng, L, P, d, CP[d, CP_IDLE_EC], CP[d, CP_IDLE_SC], CH[k, CH_EC], CH[k, CH_SC], SW_WAKE, ST_OK)
    _work(G, rng, P, d, 1)
    _down_loop(OUT, G, S, rng, L, P, CH, d, k, CP[d, CP_IDLE_EC], CP[d, CP_IDLE_SC])
    G[d, G_FREE] = G[d, G_CLOCK]
    return s


@njit(_sig("boolean", "OUT G S rng L P R CH CP AUX c k fault"), cache=True)
def _deliver(OUT, G, S, rng, L, P, R, CH, CP, AUX, c, k, fault):
    """Channel k's interrupt for its driver on CPU c: there, or (after an affinity change) on the CPU it is
    routed to, which must be idle now; False if it is not."""
    r = CH[k, CH_ROUTE]
    if r == c:
        _irq_cycle(OUT, G, S, rng, L, P, R, CH, CP, AUX, c, k, fault)
        return True
    if G[r, G_FREE] > G[c, G_CLOCK] or G[r, G_DROP] != 0:
        return False
    G[r, G_CLOCK] = G[c, G_CLOCK]
    _remote_delivery(OUT, G, S, rng, L, P, CH, CP, r, k)
    G[r, G_FREE] = G[r, G_CLOCK]
    return True


@njit(_sig("void", "OUT G S rng L P CH AUX r_ec"), cache=True)
def _reroute(OUT, G, S, rng, L, P, CH, AUX, r_ec):
    """nova-2026 affinity change by the root: detach an interrupt from its CPU's vector, attach it to another."""
    k = _below(rng, CH.shape[0])
    if CH[k, CH_ALIVE] == 0 or G[CH[k, CH_CPU], G_PEND] == k or P[P_NCPU] < 2:
        return
    old = CH[k, CH_ROUTE]
    now = G[0, G_CLOCK]
    if G[old, G_FREE] > now or G[CH[k, CH_CPU], G_FREE] > now:
        return  # an episode generated earlier may still deliver through the old route after `now`
    r2 = _below(rng, P[P_NCPU] - 1)
    r2 = r2 + 1 if r2 >= old else r2
    nv = CH[k, CH_VIDX]
    base = P[P_AUX_VEC]
    if P[P_X86] == 1:  # a free vector on the new CPU (the top 8 stay free for unassigned arrivals)
        nv = -1
        for v in range(P[P_VECS] - 9, -1, -1):
            if AUX[base + r2 * P[P_VECS] + v] == 0:
                nv = v
                break
        if nv < 0:
            return
    number, sel, dc = P[P_N_ASSIGN_INT], CH[k, CH_SEL], CH[k, CH_DC]
    fixed = CH[k, CH_CFG] | CH[k, CH_IDX] << 32
    _emit(
        OUT,
        G,
        S,
        rng,
        L,
        P,
        0,
        K_HC_ENTRY,
        r_ec,
        _word(sel, 0, number),
        dc,
        fixed | CH[k, CH_VIDX] << 8 | old << 16,
        0,
        0,
    )
    _emit(OUT, G, S, rng, L, P, 0, K_HC_EXIT, r_ec, ST_OK, 0, 0, 0, number)
    _emit(OUT, G, S, rng, L, P, 0, K_HC_ENTRY, r_ec, _word(sel, 1, number), dc, fixed | nv << 8 | r2 << 16, 0, 0)
    _emit(OUT, G, S, rng, L, P, 0, K_HC_EXIT, r_ec, ST_OK, CH[k, CH_OUT1], CH[k, CH_OUT2], 0, number)
    CH[k, CH_OLD_ROUTE] = old
    CH[k, CH_OLD_VEC] = CH[k, CH_VEC]
    if P[P_X86] == 1:
        AUX[base + old * P[P_VECS] + CH[k, CH_VIDX]] = 0
        AUX[base + r2 * P[P_VECS] + nv] = 1
        CH[k, CH_VEC] = 0x20 + nv
    CH[k, CH_VIDX] = nv
    CH[k, CH_ROUTE] = r2


# --- clients, root, IPIs ------------------------------------------------------------------------------------------


@njit(_sig("void", "OUT G S rng L P CP c"), cache=True)
def _client_call(OUT, G, S, rng, L, P, CP, c):
    """The client calls its CPU's server: IPC rendezvous on the client's SC, the reply, the call returns."""
    cl, csc, srv = CP[c, CP_CL_EC], CP[c, CP_CL_SC], CP[c, CP_SRV]
    call = _word(CP[c, CP_PORTAL], 0, P[P_N_IPC_CALL])
    _emit(OUT, G, S, rng, L, P, c, K_HC_ENTRY, cl, call, _below(rng, 32), 0, 0, 0)
    _emit(OUT, G, S, rng, L, P, c, K_SWITCH, srv, cl, srv, csc, csc, SW_IPC_CALL)
    _work(G, rng, P, c, 1)
    rmtd = _below(rng, 32)
    _emit(OUT, G, S, rng, L, P, c, K_HC_ENTRY, srv, P[P_N_IPC_REPLY], rmtd, 0, 0, 0)
    _emit(OUT, G, S, rng, L, P, c, K_SWITCH, cl, srv, cl, csc, csc, SW_IPC_REPLY)
    _emit(OUT, G, S, rng, L, P, c, K_HC_EXIT, cl, call, rmtd, 0, 0, P[P_N_IPC_CALL])


@njit(_sig("void", "OUT G S rng L P CP c"), cache=True)
def _client_sleep(OUT, G, S, rng, L, P, CP, c):
    """The client waits on its semaphore with a deadline (woken by the timer or by a peer's up)."""
    cl, csc = CP[c, CP_CL_EC], CP[c, CP_CL_SC]
    _work(G, rng, P, c, 1)
    deadline = G[c, G_CLOCK] + P[P_PERIOD] // 2 + _below(rng, P[P_PERIOD])
    _emit(OUT, G, S, rng, L, P, c, K_HC_ENTRY, cl, _word(CP[c, CP_CL_SEL], FLAG_D, P[P_N_CTRL_SM]), deadline, 0, 0, 0)
    _emit(OUT, G, S, rng, L, P, c, K_BLOCK, cl, CP[c, CP_CL_SM], deadline, csc, 0, 0)
    _emit(OUT, G, S, rng, L, P, c, K_SWITCH, CP[c, CP_IDLE_EC], cl, CP[c, CP_IDLE_EC], csc, CP[c, CP_IDLE_SC], SW_BLOCK)
    CP[c, CP_CL_DL] = deadline
    G[c, G_BUSY] = G[c, G_CLOCK]


@njit(_sig("void", "OUT G S rng L P CP c"), cache=True)
def _client_body(OUT, G, S, rng, L, P, CP, c):
    """A client's round: call the server, maybe wake a client of another CPU (semaphore up + RRQ IPI), sleep."""
    _client_call(OUT, G, S, rng, L, P, CP, c)
    cl = CP[c, CP_CL_EC]
    if P[P_NCPU] > 1 and _below(rng, 2) == 0:
        b = _below(rng, P[P_NCPU] - 1)
        b = b + 1 if b >= c else b
        t = G[c, G_CLOCK]
        if G[b, G_FREE] <= t and G[b, G_BUSY] <= t and t < CP[b, CP_CL_DL] and G[b, G_DROP] == 0:
            peer, psm = CP[b, CP_CL_EC], CP[b, CP_CL_SM]
            n_sm = P[P_N_CTRL_SM]
            _emit(OUT, G, S, rng, L, P, c, K_HC_ENTRY, cl, _word(CP[b, CP_CL_SEL], 0, n_sm), 0, 0, 0, 0)
            _emit(OUT, G, S, rng, L, P, c, K_UP, cl, psm, 0, peer, UP_HC, -1)
            _emit(OUT, G, S, rng, L, P, c, K_WAKE, cl, peer, WK_SM_UP, psm, b, 0)
            _emit(OUT, G, S, rng, L, P, c, K_IPI_SEND, cl, b, RRQ, 0, 0, 0)
            _emit(OUT, G, S, rng, L, P, c, K_HC_EXIT, cl, ST_OK, 0, 0, 0, n_sm)
            G[b, G_CLOCK] = G[c, G_CLOCK] + 1 + _below(rng, P[P_GAP] * 8)
            _emit(OUT, G, S, rng, L, P, b, K_IPI_RECV, CP[b, CP_IDLE_EC], c, RRQ, 0, 0, 0)
            idle_b, isc_b = CP[b, CP_IDLE_EC], CP[b, CP_IDLE_SC]
            _wake_run(OUT, G, S, rng, L, P, b, idle_b, isc_b, peer, CP[b, CP_CL_SC], SW_WAKE, ST_OK)
            _client_call(OUT, G, S, rng, L, P, CP, b)
            _client_sleep(OUT, G, S, rng, L, P, CP, b)
            G[b, G_FREE] = G[b, G_CLOCK]
    _client_sleep(OUT, G, S, rng, L, P, CP, c)


@njit(_sig("void", "OUT G S rng L P c ec sc sm deadline idle isc"), cache=True)
def _timer_wake(OUT, G, S, rng, L, P, c, ec, sc, sm, deadline, idle, isc):
    """A ctrl_sm deadline passes on the idle CPU c: TIMEOUT, the EC wakes, runs and returns TIMEOUT."""
    G[c, G_CLOCK] = max(G[c, G_CLOCK], deadline)
    _emit(OUT, G, S, rng, L, P, c, K_TIMEOUT, idle, TO_HC, ec, deadline, 0, 0)
    _emit(OUT, G, S, rng, L, P, c, K_WAKE, idle, ec, WK_TIMEOUT, sm, c, 0)
    _wake_run(OUT, G, S, rng, L, P, c, idle, isc, ec, sc, SW_WAKE, ST_TIMEOUT)


@njit(_sig("int64", "OUT G S rng L P CP c ec rounds"), cache=True)
def _rke_burst(OUT, G, S, rng, L, P, CP, c, ec, rounds):
    """TLB-shootdown IPIs from CPU c to every other CPU (received when each is idle); returns the count."""
    n = 0
    for _ in range(rounds):
        for b in range(P[P_NCPU]):
            if b != c and n < 400:
                _emit(OUT, G, S, rng, L, P, c, K_IPI_SEND, ec, b, RKE, 0, 0, 0)
                G[b, G_CLOCK] = max(G[c, G_CLOCK], G[b, G_FREE]) + 1 + _below(rng, P[P_GAP] * 4)
                _emit(OUT, G, S, rng, L, P, b, K_IPI_RECV, CP[b, CP_IDLE_EC], c, RKE, 0, 0, 0)
                G[b, G_FREE] = G[b, G_CLOCK]
                n += 1
    return n


@njit(_sig("void", "OUT G S rng L P CH CP AUX RT"), cache=True)
def _root_round(OUT, G, S, rng, L, P, CH, CP, AUX, RT):
    """The root task's timer expires on CPU 0: some bookkeeping, sometimes a call NOVA refuses, sleep again."""
    r_ec, r_sc, idle = RT[RT_EC], RT[RT_SC], CP[0, CP_IDLE_EC]
    _timer_wake(OUT, G, S, rng, L, P, 0, r_ec, r_sc, RT[RT_SM], RT[RT_DEADLINE], idle, CP[0, CP_IDLE_SC])
    empty = P[P_EMPTY_SEL]
    what = _below(rng, 6)
    number, status = P[P_N_CTRL_SM], ST_OK
    out1 = 0
    if what == 5 and P[P_MODE] != MODE_2026:
        what = 3
    if what == 5:  # an affinity change (its calls are written by _reroute), then a time query
        _reroute(OUT, G, S, rng, L, P, CH, AUX, r_ec)
        what = 3
    if what == 0:  # up through an empty selector
        _emit(OUT, G, S, rng, L, P, 0, K_HC_ENTRY, r_ec, _word(empty, 0, number), 0, 0, 0, 0)
        status = ST_BAD_CAP
    elif what == 1:  # route an interrupt to a CPU that does not exist
        number, status = P[P_N_ASSIGN_INT], ST_BAD_CPU
        if P[P_MODE] == MODE_2026:
            _emit(OUT, G, S, rng, L, P, 0, K_HC_ENTRY, r_ec, _word(empty, 1, number), empty, P[P_NCPU] << 16, 0, 0)
        else:
            _emit(OUT, G, S, rng, L, P, 0, K_HC_ENTRY, r_ec, _word(empty, 0, number), P[P_NCPU], 0, 0, 0)
    elif what == 2:  # an SC with priority 0
        number, status = P[P_N_CREATE_SC], ST_BAD_PAR
        _emit(OUT, G, S, rng, L, P, 0, K_HC_ENTRY, r_ec, _word(empty, 0, number), P[P_ROOT_PD_SEL], empty, 10, 0)
    elif what == 3:  # how much time has the root used
        number = P[P_N_CTRL_SC]
        RT[RT_CONSUMED] += P[P_WORK] * (1 + _below(rng, 10))
        out1 = RT[RT_CONSUMED]
        _emit(OUT, G, S, rng, L, P, 0, K_HC_ENTRY, r_ec, _word(P[P_ROOT_SC_SEL], 0, number), 0, 0, 0, 0)
    else:  # re-delegate server memory: TLB shootdown IPIs
        number = P[P_N_CTRL_PD]
        p2, p3 = 0x100 << 12 | 4, 0x400 << 12 | 3
        _emit(OUT, G, S, rng, L, P, 0, K_HC_ENTRY, r_ec, _word(RT[RT_HST], 0, number), RT[RT_SRV_HST], p2, p3, 0)
        _rke_burst(OUT, G, S, rng, L, P, CP, 0, r_ec, 1)
    _emit(OUT, G, S, rng, L, P, 0, K_HC_EXIT, r_ec, status, out1, 0, 0, number)
    _work(G, rng, P, 0, 1)
    nd = G[0, G_CLOCK] + P[P_ROOT_PERIOD]
    _emit(OUT, G, S, rng, L, P, 0, K_HC_ENTRY, r_ec, _word(RT[RT_SEL], FLAG_D, P[P_N_CTRL_SM]), nd, 0, 0, 0)
    _emit(OUT, G, S, rng, L, P, 0, K_BLOCK, r_ec, RT[RT_SM], nd, r_sc, 0, 0)
    _emit(OUT, G, S, rng, L, P, 0, K_SWITCH, idle, r_ec, idle, r_sc, CP[0, CP_IDLE_SC], SW_BLOCK)
    RT[RT_DEADLINE] = nd


# --- misroutes ----------------------------------------------------------------------------------------------------


@njit(_sig("boolean", "OUT G S rng L P CH CP AUX SP c"), cache=True)
def _misroute(OUT, G, S, rng, L, P, CH, CP, AUX, SP, c):
    """One misrouted delivery on CPU c; returns False if none was possible."""
    what = _below(rng, 4)
    idle = CP[c, CP_IDLE_EC]
    vec_base = P[P_AUX_VEC]
    if what == 3:  # after an affinity change the device still uses its old route (nova-2026)
        for _ in range(8):
            k = _below(rng, CH.shape[0])
            d = CH[k, CH_CPU]
            if CH[k, CH_OLD_ROUTE] == c and CH[k, CH_ROUTE] != c and CH[k, CH_ALIVE] == 1 and G[d, G_PEND] != k:
                irq, kind = CH[k, CH_IRQ], CH[k, CH_KIND]
                if P[P_X86] == 1:
                    vi = CH[k, CH_OLD_VEC] - 0x20
                    if AUX[vec_base + c * P[P_VECS] + vi] == 1:
                        return False
                    s = _emit(OUT, G, S, rng, L, P, c, K_ARRIVAL, idle, CH[k, CH_OLD_VEC], -1, CH[k, CH_SRC], kind,
                              CH[k, CH_EID])  # fmt: skip
                    _emit(OUT, G, S, rng, L, P, c, K_EOI, idle, -1, kind, CAUSE_ARRIVAL, 0, 0)
                    CH[k, CH_ALIVE] = 0
                    _label(S, L, F_STALE, c, s, K_ARRIVAL, irq, CH[k, CH_ROUTE], 0)
                    return True
                if d == c or G[d, G_FREE] > G[c, G_CLOCK] or G[d, G_DROP] != 0:
                    return False
                s = _remote_delivery(OUT, G, S, rng, L, P, CH, CP, c, k)
                _label(S, L, F_STALE, c, s, K_ARRIVAL, irq, CH[k, CH_ROUTE], 1)
                return True
        return False
    if what == 0:
        k = _pick_remote(G, rng, CH, c)
        if k < 0:
            return False
        irq, kind = CH[k, CH_IRQ], CH[k, CH_KIND]
        if P[P_MODE] == MODE_2026 and P[P_X86] == 1:  # per-CPU vector tables: nothing attached here, lost
            vi = CH[k, CH_VEC] - 0x20
            if AUX[vec_base + c * P[P_VECS] + vi] == 1:
                return False
            s = _emit(OUT, G, S, rng, L, P, c, K_ARRIVAL, idle, CH[k, CH_VEC], -1, CH[k, CH_SRC], kind, CH[k, CH_EID])
            _emit(OUT, G, S, rng, L, P, c, K_EOI, idle, -1, kind, CAUSE_ARRIVAL, 0, 0)
            CH[k, CH_ALIVE] = 0
            _label(S, L, F_LOST_WRONG_CPU, c, s, K_ARRIVAL, irq, CH[k, CH_CPU], CH[k, CH_VEC])
            return True
        d = CH[k, CH_CPU]
        s = _remote_delivery(OUT, G, S, rng, L, P, CH, CP, c, k)
        _label(S, L, F_WRONG_CPU, c, s, K_ARRIVAL, irq, d, 1)
        return True
    if what == 1:
        k = _below(rng, CH.shape[0])
        src = CH[k, CH_SRC]
        if src < 0:
            src = 0xF8 if P[P_X86] == 1 else 0x100
        bogus = src ^ 0x5
        fault = 0 if P[P_X86] == 1 else 2  # IR_SID_MISMATCH / ITS_UNMAPPED_DEVICE
        s = _emit(OUT, G, S, rng, L, P, c, K_FAULT, idle, bogus, fault, CH[k, CH_EID], P[P_UNIT], 0)
        _label(S, L, F_BAD_SOURCE, c, s, K_FAULT, bogus, src, CH[k, CH_EID])
        return True
    if P[P_X86] == 0:
        return False
    if P[P_MODE] == MODE_2026:  # an empty vector of this CPU
        vi = P[P_VECS] - 1 - _below(rng, 8)
        if AUX[vec_base + c * P[P_VECS] + vi] == 1:
            return False
        s = _emit(OUT, G, S, rng, L, P, c, K_ARRIVAL, idle, 0x20 + vi, -1, -1, 2, -1)
        _emit(OUT, G, S, rng, L, P, c, K_EOI, idle, -1, 2, CAUSE_ARRIVAL, 0, 0)
        _label(S, L, F_UNASSIGNED, c, s, K_ARRIVAL, -1, 0x20 + vi, 0)
        return True
    if SP.shape[0] == 0:
        return False
    j = _below(rng, SP.shape[0])
    irq = SP[j, 0]
    s = _emit(OUT, G, S, rng, L, P, c, K_ARRIVAL, idle, 0x20 + irq, irq, -1, 2, irq)
    S[S_SPARE + j] += 1
    _emit(OUT, G, S, rng, L, P, c, K_UP, idle, SP[j, 1], S[S_SPARE + j], 0, UP_IRQ, irq)
    _emit(OUT, G, S, rng, L, P, c, K_EOI, idle, irq, 2, CAUSE_ARRIVAL, 0, 0)
    _label(S, L, F_UNASSIGNED, c, s, K_ARRIVAL, irq, 0x20 + irq, 0)
    return True


# --- the loop -----------------------------------------------------------------------------------------------------


@njit(_sig("boolean", "CH c k k2"), cache=True)
def _pair(CH, c, k, k2):
    """Two different drivers of CPU c, of different priority, both delivered on c."""
    if k < 0 or k2 < 0 or k == k2 or CH[k, CH_PRIO] == CH[k2, CH_PRIO]:
        return False
    return CH[k, CH_ROUTE] == c and CH[k2, CH_ROUTE] == c


@njit(_sig("void", "OUT G S rng L P R CH CP AUX RT SP c"), cache=True)
def _episode(OUT, G, S, rng, L, P, R, CH, CP, AUX, RT, SP, c):
    S[C_EPISODES] += 1
    if G[c, G_PEND] >= 0:  # the interrupt its driver announced
        k = G[c, G_PEND]
        G[c, G_PEND] = -1
        if not _deliver(OUT, G, S, rng, L, P, R, CH, CP, AUX, c, k, 0):
            G[c, G_PEND] = k  # its CPU is busy: try again next time
            G[c, G_CLOCK] += P[P_IDLE]
        return
    if c == 0 and G[0, G_CLOCK] >= RT[RT_DEADLINE]:
        _root_round(OUT, G, S, rng, L, P, CH, CP, AUX, RT)
        return
    if G[c, G_CLOCK] >= CP[c, CP_CL_DL] and G[c, G_BUSY] <= G[c, G_CLOCK]:
        idle, isc = CP[c, CP_IDLE_EC], CP[c, CP_IDLE_SC]
        _timer_wake(
            OUT, G, S, rng, L, P, c, CP[c, CP_CL_EC], CP[c, CP_CL_SC], CP[c, CP_CL_SM], CP[c, CP_CL_DL], idle, isc
        )
        _client_body(OUT, G, S, rng, L, P, CP, c)
        return
    clean = G[c, G_DROP] == 0
    forced = S[C_LOSSES] < P[P_MIN_LOSSES] and S[C_TOTAL] >= P[P_LOSS_AT]
    if clean and (forced or _chance(rng, R[R_LOSS])):
        S[C_LOSSES] += 1
        G[c, G_DROP] = 1 + _below(rng, 12)
        clean = False
    if clean and _chance(rng, R[R_MISROUTE]) and _misroute(OUT, G, S, rng, L, P, CH, CP, AUX, SP, c):
        return
    if clean and _chance(rng, R[R_LATENCY]):
        what = _below(rng, 3)
        if what == 2 and P[P_NCPU] > 1:
            n = _rke_burst(OUT, G, S, rng, L, P, CP, c, CP[c, CP_IDLE_EC], 4 + _below(rng, 8))
            _label(S, L, F_STORM, c, G[c, G_SEQ] - n, K_IPI_SEND, c, n, 0)
            return
        k = _pick(G, rng, CH, AUX, c, False)
        if k >= 0 and what == 1 and CH[k, CH_ROUTE] == c:
            _irq_cycle(OUT, G, S, rng, L, P, R, CH, CP, AUX, c, k, F_BUDGET)
            return
        k2 = _pick(G, rng, CH, AUX, c, False)
        if _pair(CH, c, k, k2):
            _two_drivers(OUT, G, S, rng, L, P, CH, CP, c, k, k2, True, F_PREEMPTED)
            return
    fault = 0
    if clean and _chance(rng, R[R_LOST]):
        fault = F_NEVER + _below(rng, 3)  # F_NEVER, F_EDGE_MASKED, F_NEVER_UNMASKED
    elif clean and _chance(rng, R[R_DIVERGENCE]):
        fault = F_STATUS + _below(rng, 3)  # F_STATUS, F_MISSING_WAKE, F_WRONG_WAKE
    if fault == 0 and _chance(rng, R[R_PREEMPT]):
        k = _pick(G, rng, CH, AUX, c, False)
        k2 = _pick(G, rng, CH, AUX, c, False)
        if _pair(CH, c, k, k2):
            _two_drivers(OUT, G, S, rng, L, P, CH, CP, c, k, k2, _below(rng, 2) == 0, 0)
            return
    if fault == 0 and _chance(rng, R[R_STORM]):
        k = _pick(G, rng, CH, AUX, c, True)
        if k >= 0 and CH[k, CH_ROUTE] == c:
            _storm_cycle(OUT, G, S, rng, L, P, CH, CP, c, k)
            return
    if fault == 0 and P[P_NCPU] > 1 and _chance(rng, R[R_RKE]):
        _rke_burst(OUT, G, S, rng, L, P, CP, c, CP[c, CP_IDLE_EC], 1)
        return
    k = _pick(G, rng, CH, AUX, c, False)
    if k < 0:
        G[c, G_CLOCK] += P[P_IDLE]  # nothing left to interrupt this CPU
        return
    if fault in (F_EDGE_MASKED, F_NEVER_UNMASKED) and CH[k, CH_WIRED] == 0:
        fault = F_NEVER
    if not _deliver(OUT, G, S, rng, L, P, R, CH, CP, AUX, c, k, fault):
        G[c, G_CLOCK] += P[P_IDLE]


@njit(_sig("int64", "OUT G S rng L P R CH CP AUX RT SP"), cache=True, nogil=True)
def generate(OUT, G, S, rng, L, P, R, CH, CP, AUX, RT, SP):
    """Episodes until the output is nearly full, the label buffer nearly full or the target is reached."""
    cap = min(OUT.shape[1] - MARGIN, P[P_CAP])
    lcap = L.shape[0] - 8
    n = G.shape[0]
    while S[C_ROWS] < cap and S[C_TOTAL] < P[P_TARGET] and S[C_LABELS] < lcap:
        c = 0
        for i in range(1, n):
            if G[i, G_FREE] < G[c, G_FREE]:
                c = i
        G[c, G_CLOCK] = G[c, G_FREE] + 1 + _below(rng, P[P_IDLE])
        _episode(OUT, G, S, rng, L, P, R, CH, CP, AUX, RT, SP, c)
        G[c, G_FREE] = G[c, G_CLOCK]
    return S[C_ROWS]
