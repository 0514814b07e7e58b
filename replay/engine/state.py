"""Kernel state of the numba engine: a NamedTuple of numpy arrays, allocation and growth (Python side).

Objects are addressed by dense indices handed out by an open-addressing hash table over their ids (the
kernel interns ids as it meets them); when the table or the object arrays fill up the kernel stops with
``GROW`` and :func:`grown` returns a larger copy, so no pass over the trace is needed to size them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tracefmt.nova import X86_NUM_GSI

# --- slots of the global word array ``g`` (mutable scalars of the kernel)
G_EPOCH = 0  # loss epoch: +1 per gap (MODEL.md 3.6)
G_COLD = 1  # the trace started mid-run
G_IN_BOOT = 2  # inside the leading OBJ_CREATED boot announcements
G_FIRST_SEQ = 3  # sequence number of the first boot announcement
G_NF = 4  # findings written
G_LOSSES = 5  # loss gaps seen
G_NOBJ = 6  # objects interned
G_EVENTS = 7  # events consumed (global row index of the next one)
G_EXITS = 8  # 1: the trace's source records HC_EXIT (0: a console import)
G_LAST_TS = 9  # ts of the last consumed event
G_CALLS = 10  # hypercall entries whose exit pairing was checked
G_EXITS_SEEN = 11  # HC_EXITs paired with an open call
G_EXITS_LEARNED = 12  # HC_EXITs adopted without a check (unknown continuation, learning CPU)
G_TIMEOUTS = 13  # hypercall timeouts checked against their armed deadline
G_IRQ_BASE = 14  # x86 nova-2024: vector of GSI 0 (interrupt SM n = boot SM n); -1: interrupt ups not claimed
G_WOKEN = 15  # interrupt SM_UPs whose `woken` word was checked against a known wait queue
G_QGEN = 16  # generation of known wait queues: an SM's queue is known while o_qok equals it
G_SIZE = 17

# --- columns of a finding row
F_CODE, F_EXPL, F_EVENT, F_TS, F_CPU, F_SUBJECT, F_EXPECTED, F_OBSERVED, F_DETAIL, F_KIND = range(10)
F_COLS = 10

HORIZON = 32  # inputs per CPU after a gap whose findings the loss explains (MODEL.md 3.6)


class State(NamedTuple):
    g: np.ndarray  # int64[G_SIZE]
    keys: np.ndarray  # int64[table]: object id, 0 = empty slot (ids 0 and -1 are never interned)
    vals: np.ndarray  # int32[table]: dense object index
    o_id: np.ndarray  # int64[objs]
    o_ec: np.ndarray  # int8: 1 = known to be an EC
    o_cpu: np.ndarray  # int32: CPU an EC is bound to, -1 unknown
    o_idle: np.ndarray  # int8: an idle EC (makes no hypercalls)
    o_known: np.ndarray  # int8: the EC's continuation is known (MODEL.md 3.1)
    o_call: np.ndarray  # int16: Hc code of the EC's open hypercall, -1 none
    o_num: np.ndarray  # int16: raw number of the open call (p0 bits 3:0)
    o_cepoch: np.ndarray  # int64: loss epoch when the call was entered
    o_blocked: np.ndarray  # int8: blocked in ctrl_sm down (SM_BLOCK seen, not released)
    o_missed: np.ndarray  # int16: raw number of a call closed as MISSING_EXIT, -1 none
    o_carg: np.ndarray  # int64: an argument of the open call the exit needs (create_ec: bind_cpu)
    o_sure: np.ndarray  # int8: an SM whose counter and wait queue the reference knows (introduced, no loss)
    o_deadline: np.ndarray  # int64: an EC's armed ctrl_sm down deadline (SM_BLOCK word), 0 none
    o_qok: np.ndarray  # int64: = g[G_QGEN]: the SM's wait queue (below) is the reference's (nothing unseen since)
    o_qhead: np.ndarray  # int32: an SM's first waiting EC (object index), -1 none
    o_qtail: np.ndarray  # int32: an SM's last waiting EC, -1 none
    o_qnext: np.ndarray  # int32: the EC after this one in its SM's queue, -1 none
    o_qsm: np.ndarray  # int32: the SM an EC waits on (object index), -1 none
    c_cur: np.ndarray  # int64[cpus]: current EC id, 0 unknown
    c_last_seq: np.ndarray  # int64[cpus]
    c_has_last: np.ndarray  # int8[cpus]
    c_last_ts: np.ndarray  # int64[cpus]
    c_horizon: np.ndarray  # int32[cpus]: inputs still inside the loss horizon
    c_learning: np.ndarray  # int8[cpus]: post-gap until the CPU's next input
    c_woken: np.ndarray  # int64[cpus]: EC the CPU's last SM_UP woke since its last input, 0 none
    c_tmo: np.ndarray  # int64[cpus]: EC whose hypercall timeout fired in the CPU's current action, 0 none
    c_act: np.ndarray  # int16[cpus]: Hc of the CPU's current action while it is a plain non-switching call, -1
    c_sc: np.ndarray  # int8[cpus]: the current SC is known (a switch or the boot showed it)
    c_pend: np.ndarray  # int32[cpus]: object index of the EC whose HC_EXIT must come before the next input
    c_smact: np.ndarray  # int8[cpus]: open semaphore action whose record is still due (1 ctrl_sm / timer, 2 arrival)
    c_upsm: np.ndarray  # int32[cpus]: the boot interrupt SM the CPU's current arrival ups, -1 unknown / none
    c_clean: np.ndarray  # int8[cpus]: nothing but IRQ_MASK recorded since the CPU's arrival
    c_touch: np.ndarray  # int32[cpus]: SM other CPUs' records touched during the open action, -1 none, -2 several
    i_sm: np.ndarray  # int32[X86_NUM_GSI]: boot interrupt SM of each GSI (object index), -1 not announced
    findings: np.ndarray  # int64[cap, F_COLS]
    kinds: np.ndarray  # int64[256]: events per kind
    sel_tab: np.ndarray  # int64[17, 4, 3]: selector fields per Hc code: (register, shift, mask), register -1 unused
    nonswitch: np.ndarray  # int8[17]: Hc codes that return at once without a reschedule


def new_state(
    cpus: int,
    sel_tab: np.ndarray,
    nonswitch: np.ndarray,
    exits_recorded: bool,
    irq_base: int = -1,
    objs: int = 1024,
    findings: int = 1024,
) -> State:
    g = np.zeros(G_SIZE, np.int64)
    g[G_EXITS] = int(exits_recorded)
    g[G_IRQ_BASE] = irq_base
    g[G_QGEN] = 1
    return State(
        g=g,
        keys=np.zeros(objs * 2, np.int64),
        vals=np.full(objs * 2, -1, np.int32),
        o_id=np.zeros(objs, np.int64),
        o_ec=np.zeros(objs, np.int8),
        o_cpu=np.full(objs, -1, np.int32),
        o_idle=np.zeros(objs, np.int8),
        o_known=np.zeros(objs, np.int8),
        o_call=np.full(objs, -1, np.int16),
        o_num=np.zeros(objs, np.int16),
        o_cepoch=np.zeros(objs, np.int64),
        o_blocked=np.zeros(objs, np.int8),
        o_missed=np.full(objs, -1, np.int16),
        o_carg=np.zeros(objs, np.int64),
        o_sure=np.zeros(objs, np.int8),
        o_deadline=np.zeros(objs, np.int64),
        o_qok=np.zeros(objs, np.int64),
        o_qhead=np.full(objs, -1, np.int32),
        o_qtail=np.full(objs, -1, np.int32),
        o_qnext=np.full(objs, -1, np.int32),
        o_qsm=np.full(objs, -1, np.int32),
        c_cur=np.zeros(cpus, np.int64),
        c_last_seq=np.zeros(cpus, np.int64),
        c_has_last=np.zeros(cpus, np.int8),
        c_last_ts=np.zeros(cpus, np.int64),
        c_horizon=np.zeros(cpus, np.int32),
        c_learning=np.zeros(cpus, np.int8),
        c_woken=np.zeros(cpus, np.int64),
        c_tmo=np.zeros(cpus, np.int64),
        c_act=np.full(cpus, -1, np.int16),
        c_sc=np.zeros(cpus, np.int8),
        c_pend=np.full(cpus, -1, np.int32),
        c_smact=np.zeros(cpus, np.int8),
        c_upsm=np.full(cpus, -1, np.int32),
        c_clean=np.zeros(cpus, np.int8),
        c_touch=np.full(cpus, -1, np.int32),
        i_sm=np.full(X86_NUM_GSI, -1, np.int32),
        findings=np.zeros((findings, F_COLS), np.int64),
        kinds=np.zeros(256, np.int64),
        sel_tab=np.ascontiguousarray(sel_tab, dtype=np.int64),
        nonswitch=np.ascontiguousarray(nonswitch, dtype=np.int8),
    )


_OBJ_FIELDS = (
    "o_id",
    "o_ec",
    "o_cpu",
    "o_idle",
    "o_known",
    "o_call",
    "o_num",
    "o_cepoch",
    "o_blocked",
    "o_missed",
    "o_carg",
    "o_sure",
    "o_deadline",
    "o_qok",
    "o_qhead",
    "o_qtail",
    "o_qnext",
    "o_qsm",
)
_OBJ_FILL = {"o_cpu": -1, "o_call": -1, "o_missed": -1, "o_qhead": -1, "o_qtail": -1, "o_qnext": -1, "o_qsm": -1}


def grown_objects(st: State) -> State:
    """Twice the object capacity (the hash table is rebuilt by the kernel module's ``rehash``)."""
    n = len(st.o_id)
    upd = {}
    for name in _OBJ_FIELDS:
        old = getattr(st, name)
        new = np.full(2 * n, _OBJ_FILL.get(name, 0), old.dtype)
        new[:n] = old
        upd[name] = new
    upd["keys"] = np.zeros(4 * n, np.int64)
    upd["vals"] = np.full(4 * n, -1, np.int32)
    return st._replace(**upd)


def grown_findings(st: State) -> State:
    f = np.zeros((2 * len(st.findings), F_COLS), np.int64)
    f[: len(st.findings)] = st.findings
    return st._replace(findings=f)
