"""The numba event loop: one pass over a batch, dispatching on kind, findings written as integer rows.

Everything the loop calls lives in this module (one call graph, one cache). The rules are the reference
model's (replay/MODEL.md) for the subset listed in MODEL.md "The numba engine"; where the engine does not
model something it learns from the recording and reports nothing. ``run`` is resumable: it stops with
``GROW`` / ``FULL`` before an event it has no room for, the driver enlarges the state and calls it again.

Speed: every function runs with ``_nrt=False`` (the kernel allocates nothing; without it numba increfs and
decrefs the State's arrays on every attribute access - 4M instead of 45M events/s) and the hot path is
``inline="always"`` (calls passing the 30-array State cost another factor of four); rare paths (findings,
loss, boot announcements) stay separate functions to keep the cold compile near 25 s.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from replay.engine.state import (
    F_CODE,
    F_CPU,
    F_DETAIL,
    F_EVENT,
    F_EXPECTED,
    F_EXPL,
    F_KIND,
    F_OBSERVED,
    F_SUBJECT,
    F_TS,
    G_CALLS,
    G_COLD,
    G_EPOCH,
    G_EVENTS,
    G_EXITS,
    G_EXITS_LEARNED,
    G_EXITS_SEEN,
    G_FIRST_SEQ,
    G_IN_BOOT,
    G_IRQ_BASE,
    G_LAST_TS,
    G_LOSSES,
    G_NF,
    G_NOBJ,
    G_QGEN,
    G_TIMEOUTS,
    G_WOKEN,
    HORIZON,
    State,
)
from tracefmt.events import N_KINDS, Kind, TimeoutKind, UpCause, WakeReason
from tracefmt.findings import Explanation, FindingCode
from tracefmt.nova import P0_NUMBER_MASK, SEL_MASK, SELNUM, X86_NUM_GSI, Hc, ObjType, Status

OK, GROW, FULL = 0, 1, 2  # status codes of run()

_HC_ENTRY = int(Kind.HC_ENTRY)
_HC_EXIT = int(Kind.HC_EXIT)
_IRQ_ARRIVAL = int(Kind.IRQ_ARRIVAL)
_SM_UP = int(Kind.SM_UP)
_SM_BLOCK = int(Kind.SM_BLOCK)
_EC_WAKE = int(Kind.EC_WAKE)
_SCHED_SWITCH = int(Kind.SCHED_SWITCH)
_IPI_RECV = int(Kind.IPI_RECV)
_TIMEOUT = int(Kind.TIMEOUT)
_LOSS = int(Kind.RECORDER_LOSS)
_MARKER = int(Kind.MARKER)
_OBJ_CREATED = int(Kind.OBJ_CREATED)
_IRQ_MASK = int(Kind.IRQ_MASK)
_N_KINDS = N_KINDS

_HC_NONE = int(Hc.NONE)
_HC_IPC_CALL = int(Hc.IPC_CALL)
_HC_IPC_REPLY = int(Hc.IPC_REPLY)
_HC_CREATE_EC = int(Hc.CREATE_EC)
_HC_CREATE_SM = int(Hc.CREATE_SM)
_HC_CTRL_SM = int(Hc.CTRL_SM)
_N_HC = int(Hc.RESERVED) + 1

_EC_TYPE = int(ObjType.EC)
_SM_TYPE = int(ObjType.SM)
_SUCCESS = int(Status.SUCCESS)
_ST_TIMEOUT = int(Status.TIMEOUT)
_UP_CONSOLE = int(UpCause.CONSOLE)
_N_GSI = X86_NUM_GSI
_INT_SM_SEL = 0x10000  # boot selector of nova-2024 interrupt SM n: 0x10000 + n (MODEL.md 4.1)
_MAX_STATUS = int(Status.MEM_CAP)
_NUM_MASK = P0_NUMBER_MASK
_SELNUM = SELNUM
_SEL_MASK = SEL_MASK
_TO_HYPERCALL = int(TimeoutKind.HYPERCALL)
_WAKE_SM_UP = int(WakeReason.SM_UP)
_WAKE_TIMEOUT = int(WakeReason.TIMEOUT)

_KERNEL = int(Explanation.KERNEL)
_TRACE_LOSS = int(Explanation.TRACE_LOSS)
_RECORDER = int(Explanation.RECORDER)
_INPUT = int(Explanation.INPUT)
_NO_EPOCH = -1  # report(): the finding is not tied to an earlier action

_C_MISSING_EXIT = int(FindingCode.MISSING_EXIT)
_C_EARLY_TIMEOUT = int(FindingCode.EARLY_TIMEOUT)
_C_UNEXPECTED_EXIT = int(FindingCode.UNEXPECTED_EXIT)
_C_UNKNOWN_OBJECT = int(FindingCode.UNKNOWN_OBJECT)
_C_BAD_INPUT_CPU = int(FindingCode.BAD_INPUT_CPU)
_C_SELECTOR_ALIASED = int(FindingCode.SELECTOR_ALIASED)
_C_BAD_RECORD = int(FindingCode.BAD_RECORD)
_C_COLD_START = int(FindingCode.COLD_START)
_C_TRACE_GAP = int(FindingCode.TRACE_GAP)
_C_WORD_MISMATCH = int(FindingCode.WORD_MISMATCH)
_W_WOKEN = 2  # SM_UP word index of `woken`

_HASH = np.uint64(0x9E3779B97F4A7C15)
_I64_MIN = np.iinfo(np.int64).min


# --- ids -> dense object indices (open addressing, linear probing) -------------------------------------------


@njit(cache=True, inline="always", _nrt=False)
def _home(key: int, mask: int) -> int:
    return int((np.uint64(key) * _HASH) >> np.uint64(32)) & mask


@njit(cache=True, inline="always", _nrt=False)
def lookup(st: State, key: int) -> int:
    """Dense index of object ``key``, -1 if it was never interned."""
    mask = len(st.keys) - 1
    h = _home(key, mask)
    while True:
        k = st.keys[h]
        if k == key:
            return st.vals[h]
        if k == 0:
            return -1
        h = (h + 1) & mask


@njit(cache=True, inline="always", _nrt=False)
def intern(st: State, key: int) -> int:
    """Dense index of object ``key``, made (all fields unknown) if new. The caller guarantees room."""
    mask = len(st.keys) - 1
    h = _home(key, mask)
    while True:
        k = st.keys[h]
        if k == key:
            return st.vals[h]
        if k == 0:
            o = st.g[G_NOBJ]
            st.g[G_NOBJ] = o + 1
            st.keys[h] = key
            st.vals[h] = o
            st.o_id[o] = key
            return o
        h = (h + 1) & mask


@njit(cache=True, _nrt=False)
def rehash(st: State) -> None:
    """Rebuild the (empty, enlarged) hash table from the object ids."""
    mask = len(st.keys) - 1
    for o in range(st.g[G_NOBJ]):
        h = _home(st.o_id[o], mask)
        while st.keys[h] != 0:
            h = (h + 1) & mask
        st.keys[h] = st.o_id[o]
        st.vals[h] = o


# --- findings -------------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False)
def _explain(st: State, cpu: int, epoch: int) -> int:
    """KERNEL, unless loss since the action (epoch) or the CPU's loss horizon explains it (MODEL.md 3.6)."""
    if epoch != _NO_EPOCH and epoch != st.g[G_EPOCH]:
        return _TRACE_LOSS
    if 0 <= cpu < len(st.c_horizon) and st.c_horizon[cpu] > 0:
        return _TRACE_LOSS
    return _KERNEL


@njit(cache=True, _nrt=False)
def _report(st, code, expl, event, ts, cpu, kind, subject, expected, observed, detail) -> None:
    n = st.g[G_NF]
    st.g[G_NF] = n + 1
    f = st.findings[n]
    f[F_CODE] = code
    f[F_EXPL] = expl
    f[F_EVENT] = event
    f[F_TS] = ts
    f[F_CPU] = cpu
    f[F_SUBJECT] = subject
    f[F_EXPECTED] = expected
    f[F_OBSERVED] = observed
    f[F_DETAIL] = detail
    f[F_KIND] = kind


@njit(cache=True, _nrt=False)
def _relabel(st: State, since: int) -> None:
    """Findings made while the lost records were missing are explained by the loss (MODEL.md 3.4)."""
    for n in range(st.g[G_NF]):
        f = st.findings[n]
        lossy = f[F_EXPL] == _KERNEL or f[F_CODE] == _C_UNKNOWN_OBJECT
        if f[F_TS] >= since and lossy:
            f[F_EXPL] = _TRACE_LOSS
            c = f[F_CPU]
            if 0 <= c < len(st.c_horizon):
                st.c_horizon[c] = HORIZON


# --- knowledge: cold start and recorder loss --------------------------------------------------------------------


@njit(cache=True, _nrt=False)
def _forget_cpu(st: State, c: int) -> None:
    st.c_cur[c] = 0
    st.c_sc[c] = 0
    st.c_pend[c] = -1
    st.c_learning[c] = 1


@njit(cache=True, _nrt=False)
def _cold_start(st: State, event: int, ts: int, cpu: int, kind: int) -> None:
    st.g[G_COLD] = 1
    _report(st, _C_COLD_START, _TRACE_LOSS, event, ts, cpu, kind, -1, -1, -1, -1)
    for c in range(len(st.c_cur)):
        _forget_cpu(st, c)
        st.c_horizon[c] = HORIZON


@njit(cache=True, _nrt=False)
def _gap(st: State, event: int, ts: int, c: int, kind: int, lost: int, since: int) -> None:
    """``lost`` records of CPU c were lost after time ``since``: what they could have changed is unknown."""
    st.c_horizon[c] = HORIZON
    _relabel(st, since)
    _report(st, _C_TRACE_GAP, _TRACE_LOSS, event, ts, c, kind, lost, -1, -1, -1)
    st.g[G_EPOCH] += 1
    st.g[G_LOSSES] += 1
    _forget_cpu(st, c)
    for o in range(st.g[G_NOBJ]):
        if st.o_ec[o] and not st.o_idle[o] and (st.o_cpu[o] == c or st.o_cpu[o] == -1):
            st.o_known[o] = 0
            st.o_call[o] = -1
            st.o_blocked[o] = 0
        st.o_sure[o] = 0  # every counter and wait queue (MODEL.md 3.4)


# --- semaphore wait queues (MODEL.md 7): linked lists of EC indices, known only while nothing unseen touched them


@njit(cache=True, inline="always", _nrt=False)
def _taint_all(st: State) -> None:
    """Something the engine cannot see may have changed a wait queue in the reference: claim none any more."""
    st.g[G_QGEN] += 1  # O(1): every queue's mark is now stale


@njit(cache=True, _nrt=False)
def _dequeue(st: State, e: int) -> None:
    """EC ``e`` leaves the wait queue it is in, if any."""
    s = st.o_qsm[e]
    if s < 0:
        return
    st.o_qsm[e] = -1
    prev = -1
    x = st.o_qhead[s]
    while x >= 0 and x != e:
        prev = x
        x = st.o_qnext[x]
    if x < 0:
        return
    if prev < 0:
        st.o_qhead[s] = st.o_qnext[e]
    else:
        st.o_qnext[prev] = st.o_qnext[e]
    if st.o_qtail[s] == e:
        st.o_qtail[s] = prev
    st.o_qnext[e] = -1


@njit(cache=True, _nrt=False)
def _block(st: State, e: int, s: int) -> None:
    """SM_BLOCK of EC ``e`` on SM ``s``: e moves to the tail of s's queue unless it is in it already."""
    if st.o_qsm[e] == s:
        return
    _dequeue(st, e)
    st.o_qsm[e] = s
    t = st.o_qtail[s]
    if t < 0:
        st.o_qhead[s] = e
    else:
        st.o_qnext[t] = e
    st.o_qtail[s] = e


@njit(cache=True, _nrt=False)
def _others_open(st: State, c: int, s: int) -> bool:
    """A record on SM ``s`` while another CPU is inside a semaphore action whose record is still due: the
    reference made that action's change at its input (eagerly), the engine makes it at the record, so their
    orders may differ. Notes the touch for that action (``_settle`` judges it once its target is seen)."""
    n = 0
    for d in range(len(st.c_smact)):
        if d == c or st.c_smact[d] == 0 or st.c_smact[d] == 3:
            continue
        if st.c_smact[d] == 2 and st.c_upsm[d] >= 0 and st.c_upsm[d] != s:
            continue  # another CPU's arrival ups another SM
        n += 1
        t = st.c_touch[d]
        st.c_touch[d] = s if t == -1 or t == s else -2
    return n > 0


@njit(cache=True, _nrt=False)
def _settle(st: State, c: int, s: int) -> None:
    """CPU c's semaphore action showed its SM ``s`` (-1: it returned without showing it): if other CPUs'
    records touched that SM while the action was open, the two orders may differ - forget it."""
    t = st.c_touch[c]
    if t == -2 or (t >= 0 and s < 0):
        _taint_all(st)
    elif t >= 0 and t == s:
        st.o_qok[s] = 0
    st.c_touch[c] = -1
    st.c_smact[c] = 0


@njit(cache=True, _nrt=False)
def _relearn(st: State, s: int) -> None:
    """SM_UP woken 0: the reference now has the SM's queue empty and complete, whatever it predicted."""
    x = st.o_qhead[s]
    while x >= 0:
        nxt = st.o_qnext[x]
        st.o_qsm[x] = -1
        st.o_qnext[x] = -1
        x = nxt
    st.o_qhead[s] = -1
    st.o_qtail[s] = -1
    st.o_qok[s] = st.g[G_QGEN]


@njit(cache=True, _nrt=False)
def _sm_input(st: State, c: int, k: int, h: int, e: int, w0: int, w1: int) -> None:
    """An input on CPU c: an open semaphore action of c whose record never came leaves the queues unknown;
    then note the semaphore action this input starts (ctrl_sm, interrupt arrival, hypercall timer)."""
    if st.c_smact[c] != 0:
        _taint_all(st)
    st.c_smact[c] = 0
    st.c_upsm[c] = -1
    st.c_clean[c] = 0
    st.c_touch[c] = -1
    if k == _HC_ENTRY and h == _HC_CTRL_SM:
        caller = e if e != 0 and e != -1 else st.c_cur[c]
        o = intern(st, caller) if caller != 0 and caller != -1 else -1
        st.c_smact[c] = 1
        st.c_upsm[c] = o
        if o >= 0:
            st.o_carg[o] = 0  # no timer released this call (yet)
    elif k == _IRQ_ARRIVAL:
        base = st.g[G_IRQ_BASE]
        n = w0 - base
        if base < 0:
            st.c_smact[c] = 2
        elif 0 <= n < _N_GSI:  # other vectors up no SM (nova-2024 x86: the GSI table is complete after boot)
            st.c_smact[c] = 2
            st.c_upsm[c] = st.i_sm[n]
            st.c_clean[c] = 1
    elif k == _TIMEOUT and w0 == _TO_HYPERCALL and w1 != 0 and w1 != -1:
        o = lookup(st, w1)
        if o >= 0 and (st.o_blocked[o] or st.o_qsm[o] >= 0):
            st.c_smact[c] = 3  # its EC_WAKE is due (the queue change is made now, as in the reference)
            st.c_upsm[c] = o
            st.o_carg[o] = 1  # released by its timer: the call returns TIMEOUT
            _dequeue(st, o)


@njit(cache=True, _nrt=False)
def _sm_up(st: State, event: int, ts: int, c: int, key: int, woken: int, cause: int) -> None:
    """SM_UP: the `woken` word of an interrupt up is checked where the engine knows the SM's wait queue as the
    reference does (MODEL.md 14.2); an up the engine cannot follow leaves every queue unknown."""
    if key == 0 or key == -1:
        _taint_all(st)
        return
    s = intern(st, key)
    w = lookup(st, woken) if woken != 0 and woken != -1 else -1
    head = st.o_qhead[s]
    others = _others_open(st, c, s)
    clean = not st.g[G_COLD] and st.g[G_LOSSES] == 0 and st.c_horizon[c] == 0 and not st.c_learning[c]
    ours = st.c_smact[c] == 2 and st.c_upsm[c] == s and st.c_clean[c]  # the up of this CPU's arrival
    if ours and st.o_qok[s] == st.g[G_QGEN] and head >= 0 and clean and not others:
        st.g[G_WOKEN] += 1
        if woken != st.o_id[head]:
            expl = _explain(st, c, _NO_EPOCH)
            _report(st, _C_WORD_MISMATCH, expl, event, ts, c, _SM_UP, key, st.o_id[head], woken, _W_WOKEN)
    if woken == 0:
        if others:
            st.o_qok[s] = 0
        else:
            _relearn(st, s)
    elif st.o_qok[s] == st.g[G_QGEN] and head >= 0 and w == head:
        _dequeue(st, head)
    else:
        if w >= 0:
            _dequeue(st, w)
        _taint_all(st)
    if cause != _UP_CONSOLE and st.c_smact[c] != 3:
        _settle(st, c, s)
    st.c_clean[c] = 0


@njit(cache=True, _nrt=False)
def _sm_block(st: State, c: int, e: int, key: int) -> None:
    """SM_BLOCK: the EC joins the SM's queue (as the reference learns it); its down's record came."""
    if e == 0 or e == -1 or key == 0 or key == -1:
        _taint_all(st)
        return
    o = _ec(st, e, c)
    s = intern(st, key)
    _block(st, o, s)
    _others_open(st, c, s)
    if st.c_smact[c] != 1 or st.c_upsm[c] != o:
        _taint_all(st)  # not the block of this CPU's ctrl_sm
    _settle(st, c, s)


# --- hypercalls -------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always", _nrt=False)
def _ec(st: State, key: int, c: int) -> int:
    """The EC a word names (interned; an EC first seen is bound to the CPU it shows up on)."""
    o = intern(st, key)
    st.o_ec[o] = 1
    if st.o_cpu[o] == -1 and c >= 0:
        st.o_cpu[o] = c
    return o


@njit(cache=True, inline="always", _nrt=False)
def _flush(st: State, event: int, ts: int, c: int, kind: int) -> None:
    """Before an input: an HC_EXIT the CPU owes is missing (MODEL.md 2.2)."""
    o = st.c_pend[c]
    if o < 0:
        return
    st.c_pend[c] = -1
    if st.o_call[o] < 0:
        return
    expl = _explain(st, c, st.o_cepoch[o])
    _report(st, _C_MISSING_EXIT, expl, event, ts, c, kind, st.o_id[o], -1, -1, st.o_call[o])
    st.o_missed[o] = st.o_num[o]
    st.o_call[o] = -1
    st.o_blocked[o] = 0


@njit(cache=True, _nrt=False)
def _any_aliased(sel_tab: np.ndarray, h: int, w0: int, w1: int, w2: int, w3: int, w4: int) -> bool:
    """Whether a selector field of the call is >= 2^18 (takes only the table: a cheap call per hypercall)."""
    words = (w0, w1, w2, w3, w4)
    n = 0
    for j in range(sel_tab.shape[1]):
        reg = sel_tab[h, j, 0]
        if reg < 0:
            break
        v = np.uint64(words[reg]) >> np.uint64(sel_tab[h, j, 1])
        m = sel_tab[h, j, 2]
        if m != 0:
            v = v & np.uint64(m)
        n += v >= np.uint64(_SELNUM)
    return n > 0


@njit(cache=True, _nrt=False)
def _aliased(st, event, ts, c, h, w0, w1, w2, w3, w4) -> None:
    """Hypercall selectors >= 2^18: NOVA uses their low 18 bits (SELECTOR_ALIASED, MODEL.md 5)."""
    words = (w0, w1, w2, w3, w4)
    for j in range(st.sel_tab.shape[1]):
        reg = st.sel_tab[h, j, 0]
        if reg < 0:
            break
        v = np.uint64(words[reg]) >> np.uint64(st.sel_tab[h, j, 1])
        m = st.sel_tab[h, j, 2]
        if m != 0:
            v = v & np.uint64(m)
        if v >= np.uint64(_SELNUM):
            low = int(v & np.uint64(_SEL_MASK))
            _report(st, _C_SELECTOR_ALIASED, _INPUT, event, ts, c, _HC_ENTRY, low, low, np.int64(v), h)


@njit(cache=True, inline="always", _nrt=False)
def _hc_entry(st, event, ts, c, h, e, w0, w1, w2, w3, w4) -> None:
    caller = e if e != 0 and e != -1 else st.c_cur[c]
    if caller == 0 or caller == -1:
        return
    o = _ec(st, caller, c)
    if st.o_call[o] >= 0:  # its previous return was not seen: adopt that it happened
        st.o_call[o] = -1
        st.o_blocked[o] = 0
    st.o_known[o] = 1
    if h == _HC_NONE or h >= _N_HC:
        return
    if _any_aliased(st.sel_tab, h, w0, w1, w2, w3, w4):
        _aliased(st, event, ts, c, h, w0, w1, w2, w3, w4)
    if h == _HC_IPC_REPLY:  # never returns to its caller
        return
    st.o_call[o] = h
    st.o_num[o] = w0 & _NUM_MASK
    st.o_cepoch[o] = st.g[G_EPOCH]
    if h == _HC_CREATE_EC:
        st.o_carg[o] = w2 & 0xFFF  # bind_cpu of the EC it makes
    st.g[G_CALLS] += 1
    if st.g[G_EXITS] and st.nonswitch[h] and st.c_sc[c]:  # an unknown SC: the model cannot resume the caller
        st.c_pend[c] = o


@njit(cache=True, inline="always", _nrt=False)
def _hc_exit(st, event, ts, c, hk, e, w0, w3, w4) -> None:
    if e == 0 or e == -1:
        return
    o = _ec(st, e, c)
    st.c_pend[c] = -1  # an HC_EXIT answers the CPU's first expected exit (MODEL.md 2.2 step 1)
    call = st.o_call[o]
    if call < 0:
        late = st.o_missed[o] == (w4 & _NUM_MASK)
        st.o_missed[o] = -1
        # claimed only inside a plain non-switching call's action (anything else may have made the reference
        # learn), and not inside a loss horizon (state the gap made unknown)
        clean = st.c_act[c] >= 0 and not st.c_learning[c] and st.c_horizon[c] == 0
        if st.o_known[o] and clean and not late:
            expl = _explain(st, c, _NO_EPOCH)
            _report(st, _C_UNEXPECTED_EXIT, expl, event, ts, c, _HC_EXIT, e, -1, -1, hk)
        else:
            st.g[G_EXITS_LEARNED] += 1
        st.o_known[o] = 1
        return
    status = w0
    valid = (0 <= w0 <= _MAX_STATUS) or (call == _HC_IPC_CALL and (w0 & _NUM_MASK) == 0)
    if not valid:
        _report(st, _C_BAD_RECORD, _RECORDER, event, ts, c, _HC_EXIT, e, -1, w0, call)
    elif call == _HC_IPC_CALL and not 0 <= w0 <= _MAX_STATUS:
        status = _SUCCESS
    if call == _HC_CTRL_SM and not st.g[G_COLD] and st.g[G_LOSSES] == 0:
        want = _ST_TIMEOUT if st.o_carg[o] == 1 else _SUCCESS
        if status != want or st.o_blocked[o] or st.o_qsm[o] >= 0:
            _taint_all(st)  # a status the reference may not have predicted forgets the SM (MODEL.md 7)
            _dequeue(st, o)
        if st.c_smact[c] == 1 and st.c_upsm[c] == o:
            _settle(st, c, -1)
    st.o_blocked[o] = 0  # an exit while blocked: only the reference's semaphore state can judge it
    st.g[G_EXITS_SEEN] += 1
    if call == _HC_CREATE_SM and status == _SUCCESS and w3 != 0 and w3 != -1:
        if lookup(st, w3) < 0:
            st.o_qok[intern(st, w3)] = st.g[G_QGEN]  # a new SM: empty queue
        st.o_sure[intern(st, w3)] = 1
    if call == _HC_CREATE_EC and status == _SUCCESS and w3 != 0 and w3 != -1:
        n = _ec(st, w3, -1)
        st.o_known[n] = 1  # a new EC waits for its first event: known
        st.o_cpu[n] = st.o_carg[o]
    st.o_known[o] = 1
    st.o_missed[o] = -1
    st.o_call[o] = -1


# --- observations -----------------------------------------------------------------------------------------------


@njit(cache=True, inline="always", _nrt=False)
def _released(st: State, key: int, only_blocked: bool) -> None:
    """An up, wake or timer released EC ``key``: its call is decided; without a call (a block the model only
    learned) its continuation is unknown (MODEL.md 3.5)."""
    if key == 0 or key == -1:
        return
    o = lookup(st, key)
    if o < 0 or (only_blocked and not st.o_blocked[o] and st.o_known[o]):
        return
    st.o_blocked[o] = 0
    if st.o_call[o] < 0:
        st.o_known[o] = 0


@njit(cache=True, inline="always", _nrt=False)
def _uncertain_sm(st: State, c: int, key: int) -> None:
    """An up or block on an SM whose state the reference may not know: it learns the CPU's outputs until the
    next input (MODEL.md 3.2), so the engine claims nothing there either. After any loss or a cold start
    capabilities are unknown and a ctrl_sm through one forgets every SM: then no SM is certain any more."""
    o = lookup(st, key) if key != 0 and key != -1 else -1
    if st.g[G_COLD] or st.g[G_LOSSES] > 0 or o < 0 or not st.o_sure[o]:
        st.c_learning[c] = 1


@njit(cache=True, inline="always", _nrt=False)
def _check_wake(st: State, c: int, w: int, reason: int, target: int) -> None:
    """An EC_WAKE the recorded up / timer of this action does not explain, or naming another CPU than the
    woken EC's: the reference reports a mismatch and learns the rest of the action - so the engine claims
    nothing until the CPU's next input."""
    o = lookup(st, w) if w != 0 and w != -1 else -1
    odd = (reason == _WAKE_SM_UP and w != st.c_woken[c]) or (reason == _WAKE_TIMEOUT and w != st.c_tmo[c])
    if odd or (o >= 0 and st.o_cpu[o] >= 0 and target != st.o_cpu[o]):
        st.c_learning[c] = 1
        if reason in (_WAKE_SM_UP, _WAKE_TIMEOUT):
            _taint_all(st)  # the reference learns the release: the EC leaves whatever queue it had it in


@njit(cache=True, inline="always", _nrt=False)
def _timeout(st: State, event: int, ts: int, c: int, key: int, deadline: int) -> None:
    """TIMEOUT(HYPERCALL, W, deadline): W blocked with that deadline armed must not wake before it."""
    if key == 0 or key == -1:
        return
    o = lookup(st, key)
    if o < 0:
        return
    if st.o_blocked[o] and st.o_deadline[o] != 0 and st.o_deadline[o] == deadline:
        st.g[G_TIMEOUTS] += 1
        if ts < deadline:
            _report(st, _C_EARLY_TIMEOUT, _explain(st, c, _NO_EPOCH), event, ts, c, _TIMEOUT, key, deadline, ts, -1)
    _released(st, key, True)


@njit(cache=True, _nrt=False)
def _created(st, c, booting, e, w0, w1, w2, w3, w4) -> None:
    """OBJ_CREATED of an EC or SM: boot announcements (idle ECs become current), or a create_ec's new EC /
    create_sm's new SM."""
    if w0 == 0 or w0 == -1:
        return
    if (w1 >> 8) == _SM_TYPE:
        creator = lookup(st, e) if e != 0 and e != -1 else -1
        if booting or (creator >= 0 and st.o_call[creator] == _HC_CREATE_SM):
            if lookup(st, w0) < 0:
                st.o_qok[intern(st, w0)] = st.g[G_QGEN]  # a new SM: empty queue
            o = intern(st, w0)
            st.o_sure[o] = 1
            base = st.g[G_IRQ_BASE]
            if booting and base >= 0 and w3 == 0 and 0 <= w4 < _N_GSI and w2 == _INT_SM_SEL + w4:
                st.i_sm[w4] = o  # interrupt SM n of the nova-2024 table (MODEL.md 4.1)
        return
    if (w1 >> 8) != _EC_TYPE:
        return
    if booting:
        o = _ec(st, w0, -1)
        st.o_known[o] = 1
        if 0 <= w4 < len(st.c_cur):
            st.o_cpu[o] = w4
        if w3 == 0:  # owned by the NOVA space: an idle EC, current on its CPU from the start
            st.o_idle[o] = 1
            if 0 <= w4 < len(st.c_cur):
                st.c_cur[w4] = w0
                st.c_sc[w4] = 1  # and its idle SC
        return
    if e == 0 or e == -1:
        return
    creator = lookup(st, e)
    if creator >= 0 and st.o_call[creator] == _HC_CREATE_EC:
        o = _ec(st, w0, -1)
        st.o_known[o] = 1
        st.o_cpu[o] = st.o_carg[creator]


# --- the loop ---------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always", _nrt=False)
def _step(st, ts, c, seq, k, h, e, w0, w1, w2, w3, w4) -> None:
    g = st.g
    ncpu = len(st.c_cur)
    event = g[G_EVENTS]
    g[G_EVENTS] = event + 1
    g[G_LAST_TS] = ts
    st.kinds[k] += 1
    if event == 0:
        if k == _OBJ_CREATED:
            g[G_IN_BOOT] = 1
            g[G_FIRST_SEQ] = seq
        else:
            _cold_start(st, event, ts, c, k)
    if c < 0 or c >= ncpu:
        _report(st, _C_BAD_INPUT_CPU, _INPUT, event, ts, c, k, -1, -1, c, -1)
        return
    if k >= _N_KINDS:
        _report(st, _C_BAD_RECORD, _RECORDER, event, ts, c, k, -1, -1, k, -1)
        return
    if g[G_IN_BOOT]:
        if k == _OBJ_CREATED:
            st.c_last_seq[c] = seq
            st.c_last_ts[c] = ts
            st.c_has_last[c] = 2
            _created(st, c, True, e, w0, w1, w2, w3, w4)
            return
        g[G_IN_BOOT] = 0
    if st.c_has_last[c] == 0 and not g[G_COLD]:
        st.c_last_seq[c] = g[G_FIRST_SEQ] - 1  # a booted trace: every recorder starts where the BSP's did
        st.c_has_last[c] = 1  # (1: no timestamp yet)
    lost = seq - st.c_last_seq[c] - 1 if st.c_has_last[c] else 0
    if k == _LOSS and lost <= 0:
        lost = w0
    if lost > 0:
        since = st.c_last_ts[c] if st.c_has_last[c] == 2 else _I64_MIN
        _gap(st, event, ts, c, k, lost, since)
    st.c_last_seq[c] = seq
    st.c_last_ts[c] = ts
    st.c_has_last[c] = 2
    queues = not g[G_COLD] and g[G_LOSSES] == 0  # wait queues are followed (and claimed) only before any loss
    if k == _LOSS:
        return
    if k == _IPI_RECV and not -1 <= w0 < ncpu:
        _report(st, _C_BAD_INPUT_CPU, _INPUT, event, ts, c, k, -1, -1, w0, 0)
        return
    if k == _IPI_RECV and w1 != 0 and w1 != 1:
        _report(st, _C_BAD_RECORD, _RECORDER, event, ts, c, k, -1, -1, w1, -1)
        return
    if k == _TIMEOUT and w0 != 0 and w0 != 1:
        _report(st, _C_BAD_RECORD, _RECORDER, event, ts, c, k, -1, -1, w0, -1)
        return
    flushing = k in (_HC_ENTRY, _IRQ_ARRIVAL, _TIMEOUT, _IPI_RECV)
    if flushing:
        _flush(st, event, ts, c, k)
        if queues:
            _sm_input(st, c, k, h, e, w0, w1)
        st.c_learning[c] = 0
        st.c_woken[c] = 0
        st.c_act[c] = h if k == _HC_ENTRY and h < _N_HC and st.nonswitch[h] else -1
        st.c_tmo[c] = w1 if k == _TIMEOUT and w0 == _TO_HYPERCALL else 0
        if st.c_horizon[c] > 0:
            st.c_horizon[c] -= 1
    if (flushing or k == _MARKER) and e != 0 and e != -1:
        if st.c_cur[c] != 0 and st.c_cur[c] != -1 and st.c_cur[c] != e:
            st.c_sc[c] = 0  # a switch went unrecorded: the reference may not know the current SC either
        st.c_cur[c] = e
    if not flushing and k != _IRQ_MASK and k != _SM_UP:
        st.c_clean[c] = 0  # something else than the arrival's IRQ_MASK came first (an SM_UP clears it itself)
    if not flushing and k != _HC_EXIT and k != _OBJ_CREATED and k != _MARKER:
        st.c_act[c] = -1  # the action did more than return: only the reference can judge what follows
    if k == _HC_ENTRY:
        _hc_entry(st, event, ts, c, h, e, w0, w1, w2, w3, w4)
    elif k == _HC_EXIT:
        _hc_exit(st, event, ts, c, h, e, w0, w3, w4)
    elif k == _SM_BLOCK:
        _uncertain_sm(st, c, w0)
        if queues:
            _sm_block(st, c, e, w0)
        if e != 0 and e != -1:
            o = _ec(st, e, c)
            st.o_blocked[o] = 1
            st.o_deadline[o] = w1
    elif k == _SM_UP:
        if queues:
            _sm_up(st, event, ts, c, w0, w2, w3)
        _uncertain_sm(st, c, w0)
        if w2 != 0 and w2 != -1:
            o = lookup(st, w2)
            if o < 0 or not st.o_blocked[o]:
                st.c_learning[c] = 1  # woke an EC not known to wait: the reference fixes up and learns
        st.c_woken[c] = w2
        _released(st, w2, False)
    elif k == _EC_WAKE:
        _check_wake(st, c, w0, w1, w3)
        if w1 == _WAKE_TIMEOUT and st.c_smact[c] == 3 and w0 == st.c_tmo[c]:
            st.c_smact[c] = 0  # the timer's wake came
        if w1 in (_WAKE_SM_UP, _WAKE_TIMEOUT):
            _released(st, w0, True)
    elif k == _TIMEOUT:
        if w0 == _TO_HYPERCALL:
            _timeout(st, event, ts, c, w1, w2)
    elif k == _SCHED_SWITCH:
        if w1 != 0 and w1 != -1:
            st.c_cur[c] = w1
            o = lookup(st, w1)
            if o >= 0 and (st.o_blocked[o] or st.o_qsm[o] >= 0):  # it runs: released, but the recording did
                st.o_blocked[o] = 0  # not show how - the reference has a mismatch there and learns: claim nothing
                st.c_learning[c] = 1
                _dequeue(st, o)
                _taint_all(st)
        if w3 != 0 and w3 != -1:
            st.c_sc[c] = 1
    elif k == _OBJ_CREATED:
        _created(st, c, False, e, w0, w1, w2, w3, w4)


@njit(cache=True, _nrt=False)
def run(st, ts, cpu, seq, kind, hc, ec, a0, a1, a2, a3, a4, start):
    """Replay events ``start ..`` of one batch; returns (status, next event). GROW / FULL: no room for the next
    event's objects / findings - enlarge the state and call again from ``next``."""
    n = len(ts)
    room = len(st.o_id) - 8
    for i in range(start, n):
        if st.g[G_NOBJ] >= room:
            return GROW, i
        if st.g[G_NF] + 8 > len(st.findings):
            return FULL, i
        _step(
            st,
            ts[i],
            np.int64(cpu[i]),
            seq[i],
            np.int64(kind[i]),
            np.int64(hc[i]),
            ec[i],
            a0[i],
            a1[i],
            a2[i],
            a3[i],
            a4[i],
        )
    return OK, n
