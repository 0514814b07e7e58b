"""Hypercall entry and exit (MODEL.md section 6): verdicts with unknown operands, open calls, HC_EXIT checks.

A handler (``hc_create``, ``hc_ctrl``, ``semaphores``, ``ipc``, ``irq``) evaluates NOVA's checks in order on
a ``Verdict``, prepares the call's effect, and either commits it at entry (calls whose outputs follow at
once) or leaves ``Call.commit`` to run at HC_EXIT with the *recorded* status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from replay.reference.state import UNK, Cap, Cont, Cpu, Ec, Obj, Space
from tracefmt.decode import FIELDS, INVALID_STATUS, SELECTOR_FIELDS, exit_status
from tracefmt.events import Kind
from tracefmt.findings import Explanation, FindingCode
from tracefmt.nova import P0_NUMBER_MASK, SEL_MASK, SELNUM, Hc, ObjType, Status

if TYPE_CHECKING:
    from replay.reference.model import Ev, ReferenceModel

U64 = (1 << 64) - 1
RESOURCE = (Status.MEM_OBJ, Status.MEM_CAP)


def u64(v: int) -> int:
    return v & U64


def i64(v: int) -> int:
    v &= U64
    return v - (1 << 64) if v >= 1 << 63 else v


class Verdict:
    """NOVA's checks in order; unknown operands widen the allowed statuses (MODEL.md 3.2)."""

    def __init__(self) -> None:
        self.status: int | None = None  # first definite failure, then the final primary status
        self.allowed = 0  # bit per status
        self.unsure = False
        self.alloc = False  # the checks before allocation passed: the kernel made the object

    def need(self, ok: bool | None, fail: Status) -> bool:
        """One check: True while evaluation goes on (the check passed or is unknown)."""
        if self.status is not None:
            return False
        if ok is False:
            self.status = int(fail)
            self.allowed |= 1 << int(fail)
            return False
        if ok is None:
            self.allowed |= 1 << int(fail)
            self.unsure = True
        return True

    def may(self, *statuses: int) -> None:
        """Outcomes the model cannot decide (resources, hardware) once the checks so far passed."""
        if self.status is None:
            for s in statuses:
                self.allowed |= 1 << int(s)
            self.alloc = self.alloc or Status.MEM_OBJ in statuses

    def done(self) -> int:
        if self.status is None:
            self.status = int(Status.SUCCESS)
            self.allowed |= 1
        return self.status

    def allows(self, status: int) -> bool:
        return 0 <= status < 64 and bool(self.allowed >> status & 1)


@dataclass(eq=False)
class Call:
    hc: int
    number: int
    p0: int  # unsigned entry p0
    f: dict[str, int]
    event: int
    epoch: int
    ec: Ec
    cpu: int
    v: Verdict = field(default_factory=Verdict)
    status: int | None = None  # the status the EC will return (None while blocked)
    out1: int | None = None  # expected out registers on SUCCESS (None = not checked)
    out2: int | None = None
    commit: Callable[[ReferenceModel, int], None] | None = None  # effect at HC_EXIT for the recorded status
    reconcile: Callable[[ReferenceModel, int], None] | None = None  # act-at-entry calls: recorded != primary
    forget: Callable[[ReferenceModel], None] | None = None  # a failure the model did not predict: effects unknown
    created: Obj | None = None
    consulted: list[tuple[Space, int]] = field(default_factory=list)
    used_sc: Any = None  # ctrl_sc: the SC whose consumed time out_p1 reports

    def decide(self, status: int) -> None:
        """A waiting call (blocked down, ipc_call in progress) learns its result: exactly this status."""
        self.status = int(status)
        self.v.status, self.v.allowed = int(status), 1 << int(status)

    def expected_p0(self) -> int:
        if self.hc == Hc.IPC_CALL and self.status == Status.SUCCESS:
            return i64(self.p0)  # NOVA leaves p0 untouched on ipc_call success (domain.md 2.1)
        return -1 if self.status is None else self.status

    def exit_words(self) -> list[int | None]:
        created = None if self.created is None or self.status != Status.SUCCESS else self.created.id
        return [self.expected_p0(), self.out1, self.out2, created, self.number]

    def expect_exit(self, m: ReferenceModel, cpu: Cpu) -> None:
        m.emit(cpu.n, Kind.HC_EXIT, [None] * 5, ec=self.ec, ref=self)

    def close(self, m: ReferenceModel, status: int, mismatch: bool) -> None:
        """Apply the call's effect for the recorded ``status`` and detach it from its EC."""
        if self.ec.call is self:
            self.ec.call = None
        if self.hc == Hc.CTRL_SM:
            self.ec.timeout, self.ec.timeout_sm = 0, None  # disarmed when the EC resumes (sys_finish<.., true>)
        if mismatch and Status.BAD_CAP in (self.status, status):  # a capability was not what the model had
            for space, sel in self.consulted:
                space.store(sel, UNK)
        if mismatch and status != Status.SUCCESS and self.status == Status.SUCCESS and self.forget is not None:
            self.forget(m)  # the kernel disagreed: whether the effect happened is unknown (MODEL.md 3.5)
        if self.commit is not None:
            self.commit(m, status)
        elif self.reconcile is not None and status != self.status:
            self.reconcile(m, status)


# --- capability checks -----------------------------------------------------------------------------------


def lookup(m: ReferenceModel, call: Call, sel: int) -> Any:
    """Cap, None or UNK at ``sel`` in the caller's object space (records the slot as consulted)."""
    space = call.ec.space
    if space is None:
        return UNK
    call.consulted.append((space, sel & SEL_MASK))
    return space.lookup(sel)


def valid(cap: Any, t: ObjType, perms: int, subtype: int | None = None) -> bool | None:
    """B24 Capability::validate with unknowns: True, False or None."""
    if cap is UNK:
        return None
    if cap is None:
        return False
    obj = cap.obj
    if obj.type != t:
        return False
    if subtype is not None:
        if obj.subtype is None:
            return None
        if obj.subtype != subtype:
            return False
    if cap.perms is None:
        return None
    return (cap.perms & perms) == perms


def obj_of(cap: Any) -> Obj | None:
    return cap.obj if isinstance(cap, Cap) else None


def slot_free(m: ReferenceModel, call: Call, sel: int) -> bool | None:
    cap = lookup(m, call, sel)
    return None if cap is UNK else cap is None


def both(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def known(x: Any) -> bool | None:
    """A yes/no question whose answer may be unknown (None stays None)."""
    return None if x is None else bool(x)


# --- entry and exit ----------------------------------------------------------------------------------------


def decode(m: ReferenceModel, ev: Ev) -> dict[str, int]:
    fields = FIELDS[m.api].get(Hc(ev.hc), ())
    out = {}
    for f in fields:
        v = u64(ev.a[f.reg]) >> f.shift
        out[f.name] = v & f.mask if f.mask else v
    return out


def hc_entry(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    from replay.reference import handlers, sched

    caller = cpu.ec if cpu.ec is not None else m.resolve(ev.ec, ObjType.EC, ev, cpu.n)
    if caller is None:
        return
    if caller.call is not None:  # the previous call's return was not seen: adopt that it happened
        old = caller.call
        old.close(m, old.status if old.status is not None else old.v.done(), False)
        _unqueue(caller)
    caller.cont = Cont.USER
    hc = ev.hc
    if hc == Hc.NONE:
        return
    f = decode(m, ev)
    for name in SELECTOR_FIELDS:
        v = f.get(name)
        if v is not None and v >= SELNUM:
            m.report(FindingCode.SELECTOR_ALIASED, ev, v & SEL_MASK, v & SEL_MASK, i64(v), hc, Explanation.INPUT)
    call = Call(hc, u64(ev.a[0]) & P0_NUMBER_MASK, u64(ev.a[0]), f, ev.i, m.epoch, caller, cpu.n)
    handlers.HANDLERS[Hc(hc)](m, cpu, call)
    sched.end_action(m, cpu)
    if Kind.HC_EXIT not in m.recorded and caller.call is call and call.status is not None:
        cpu.unclosed.append(call)  # no HC_EXIT will come: the model's status takes effect at the next input


def _unqueue(ec: Ec) -> None:
    """The trace shows ``ec`` running although the model had it blocked: take it out of its queue."""
    if ec.blocked_on is not None and ec in ec.blocked_on.waiters:
        ec.blocked_on.waiters.remove(ec)
    ec.blocked_on = None
    for sc in ec.parked:
        sc.state = None
    ec.parked = []


def finish_call(m: ReferenceModel, call: Call, status: int) -> None:
    """The call returns ``status`` right away: the caller's continuation becomes EXIT."""
    call.status = status
    call.ec.call = call
    call.ec.cont = Cont.EXIT


def hc_exit(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    ec = cpu.ec if cpu.ec is not None and cpu.ec.id == ev.ec else m.resolve(ev.ec, ObjType.EC, ev, cpu.n)
    if ec is None:
        return
    from replay.reference import observe
    from replay.reference.expect import find, value

    if cpu.awaiting:  # the EC returns although the switch to it was not seen: it happened unrecorded
        for x in list(cpu.pending):
            if x.kind == Kind.SCHED_SWITCH and value(x.words[1]) == ec.id:
                cpu.pending.remove(x)
                observe.missing(m, cpu, x, ev, flushed=False)
                break
    j = find(cpu.pending, Kind.HC_EXIT, ev.ec, ev.a, m.reg)
    call = ec.call
    if call is None:
        if j >= 0:
            del cpu.pending[j]
        late = ec.missed is not None and ec.missed.number == (u64(ev.a[4]) & P0_NUMBER_MASK)
        ec.missed = None
        if ec.cont is not None and not cpu.learning and not late:
            m.report(FindingCode.UNEXPECTED_EXIT, ev, ec.id, detail=ev.hc)
        ec.cont = Cont.USER
        return
    x = cpu.pending[j] if j >= 0 else None
    observed = exit_status(call.hc, ev.a[0])
    if observed == INVALID_STATUS:
        m.report(FindingCode.BAD_RECORD, ev, ec.id, -1, ev.a[0], call.hc, Explanation.RECORDER)
        observed = call.status if call.status is not None else call.v.done()
    if (u64(ev.a[4]) & P0_NUMBER_MASK) != call.number:
        m.report(FindingCode.WORD_MISMATCH, ev, ec.id, call.number, ev.a[4], 4, Explanation.RECORDER)
    blocked = call.status is None
    mismatch = blocked or not call.v.allows(observed)
    if x is not None:
        observe.skip_before(m, cpu, j, ev, silent_action=x.action if mismatch else None)
        cpu.pending.remove(x)
    epoch = call.epoch
    if blocked:
        m.report(FindingCode.UNEXPECTED_EXIT, ev, ec.id, -1, observed, call.hc, epoch=epoch)
        _unqueue(ec)
    elif mismatch:
        m.report(FindingCode.STATUS_MISMATCH, ev, ec.id, call.status, observed, call.hc, epoch=epoch)
    elif observed == Status.SUCCESS:
        for exp, got in ((call.out1, ev.a[1]), (call.out2, ev.a[2])):
            if exp is not None and i64(exp) != got:
                m.report(FindingCode.OUT_MISMATCH, ev, ec.id, i64(exp), got, call.hc, epoch=epoch)
                break
        sc = call.used_sc
        if sc is not None:  # ctrl_sc: consumed time never decreases (MODEL.md 9)
            used = u64(ev.a[1])
            if used < sc.used_seen:
                m.report(FindingCode.OUT_MISMATCH, ev, ec.id, sc.used_seen, used, call.hc, epoch=epoch)
            sc.used_seen = max(sc.used_seen, used)
    effective = observed
    if mismatch and call.created is not None and observed != Status.SUCCESS and ev.a[3] not in (0, -1):
        effective = Status.SUCCESS  # the created word shows the object exists: one finding, no cascade
        m.reg.bind(call.created, ev.a[3])
    elif not mismatch:
        _check_created(m, ev, call, observed)
    ec.cont = Cont.USER
    ec.missed = None
    call.close(m, effective, mismatch)


def _check_created(m: ReferenceModel, ev: Ev, call: Call, observed: int) -> None:
    created = ev.a[3]
    if created == 0:
        return
    if observed != Status.SUCCESS or call.created is None:
        m.report(FindingCode.CREATED_MISMATCH, ev, call.ec.id, 0, created, call.hc, epoch=call.epoch)
        return
    if not m.reg.bind(call.created, created):
        exp = call.created.id
        m.report(FindingCode.CREATED_MISMATCH, ev, call.ec.id, exp, created, call.hc, epoch=call.epoch)


def missing_exit(m: ReferenceModel, call: Call, ev: Ev | None) -> None:
    """The HC_EXIT the model expected did not come before the next input (MODEL.md 2.2)."""
    st = call.status if call.status is not None else call.v.done()
    m.report(FindingCode.MISSING_EXIT, ev, call.ec.id, st, -1, call.hc, epoch=call.epoch)
    call.close(m, st, False)
    call.ec.missed = call
