"""Kernel state of the reference model: objects, capabilities, CPUs and interrupts as plain Python.

Unknown is explicit everywhere (MODEL.md section 3.1): a scalar field is ``None`` when unknown, a
collection carries a ``*_complete`` flag, an object space can be ``default_unknown`` and holds the ``UNK``
sentinel in slots whose content is unknown. References between objects are Python object references, so
binding a provisional id to the kernel's id (MODEL.md 4.3) renames an object without touching its users.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple

from tracefmt.events import IrqKind
from tracefmt.nova import PRIORITIES, SEL_MASK, ObjType, PdSubtype


class Cont(IntEnum):
    """What an EC does when it is next made current (B24 ``Ec::cont``, MODEL.md 8.1)."""

    USER = 0  # returns to user mode, nothing pending
    EXIT = 1  # returns from its open hypercall with a decided status
    IDLE = 2  # local EC waiting in ipc_reply (cont == nullptr): blocked
    BLOCKED = 3  # in a semaphore wait queue: blocked
    CALLING = 4  # did a rendezvous, waits for the reply (activation walks to the callee)
    RETRY = 5  # helped a busy callee: re-executes ipc_call (or the event delivery) when it runs
    RECV = 6  # received a call: runs the portal handler
    EVENT = 7  # an event (STARTUP) waits to be delivered
    DEAD = 8  # killed
    KERNEL = 9  # the idle EC


BLOCKED_CONTS = (Cont.IDLE, Cont.BLOCKED)


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


UNK: Any = _Sentinel("UNK")  # slot content unknown
NULL: Any = _Sentinel("NULL")  # slot known to be empty (stored only where the default is unknown)


class Cap(NamedTuple):
    obj: Obj
    perms: int | None  # None = permissions unknown


# --- objects ----------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Obj:
    id: int
    type: ObjType
    subtype: int | None = None
    alive: bool = True
    bound: bool = True  # False: the kernel's id is not known yet (provisional or not yet created)


@dataclass(eq=False)
class Space(Obj):
    """A PD-type object with a space subtype (OBJ HST GST DMA PIO MSR)."""

    pd: Pd | None = None  # the PD it belongs to
    kernel: bool = False  # one of NOVA's own spaces
    # OBJ spaces only
    slots: dict[int, Any] = field(default_factory=dict)  # sel -> Cap | UNK | NULL
    default_unknown: bool = False
    unknown_ranges: list[tuple[int, int]] = field(default_factory=list)

    def lookup(self, sel: int) -> Any:
        """Cap, None (empty) or UNK for ``sel`` (aliased to 18 bits like NOVA)."""
        s = sel & SEL_MASK
        v = self.slots.get(s)
        if v is not None:
            return None if v is NULL else v
        if self.default_unknown or any(lo <= s < hi for lo, hi in self.unknown_ranges):
            return UNK
        return None

    def store(self, sel: int, v: Any) -> None:
        """Set slot ``sel`` to a Cap, None (empty) or UNK."""
        s = sel & SEL_MASK
        if isinstance(v, Cap) and v.perms == 0:
            v = None  # a capability without permissions is a null capability
        if v is None:
            default_null = not self.default_unknown and not any(lo <= s < hi for lo, hi in self.unknown_ranges)
            if default_null:
                self.slots.pop(s, None)
            else:
                self.slots[s] = NULL
        else:
            self.slots[s] = v

    def forget(self) -> None:
        """Every slot unknown (loss, MODEL.md 3.4)."""
        self.slots.clear()
        self.unknown_ranges.clear()
        self.default_unknown = True

    def forget_range(self, lo: int, hi: int) -> None:
        for s in [s for s in self.slots if lo <= s < hi]:
            del self.slots[s]
        if not self.default_unknown:
            self.unknown_ranges.append((lo, hi))


@dataclass(eq=False)
class Pd(Obj):
    obj: Space | None = None  # attached spaces (the ones ECs bind to)
    hst: Space | None = None
    pio: Space | None = None
    attach_known: bool = True  # False: the attachments above are unknown


@dataclass(eq=False)
class Ec(Obj):
    cpu: int | None = None
    pd: Pd | None = None
    space: Space | None = None  # the OBJ space its hypercalls use
    evt: int | None = None
    cont: Cont | None = None
    call: Any = None  # the open hypercall (replay.reference.calls.Call)
    caller: Ec | None = None
    callee: Ec | None = None
    links_known: bool = True
    blocked_on: Sm | None = None
    parked: list[Sc] = field(default_factory=list)  # SCs parked on this EC while it is blocked
    timeout: int | None = 0  # armed ctrl_sm deadline (0 = none, None = unknown)
    timeout_sm: Sm | None = None
    recall: bool | None = False
    event_wait: bool = False  # CALLING on an event (exception, STARTUP) rather than a hypercall
    event_no: int | None = None  # the event being delivered (re-sent after helping)
    missed: Any = None  # a call whose HC_EXIT was reported missing (its late HC_EXIT is not reported again)


@dataclass(eq=False)
class Sc(Obj):
    cpu: int | None = None
    ec: Ec | None = None
    prio: int | None = None
    budget: int | None = None  # STC ticks
    cos: int | None = None
    left: int | None = 0
    state: str | None = None  # current ready release parked off
    since: int = 0  # ts it became current
    used_seen: int = 0  # largest ctrl_sc value observed


@dataclass(eq=False)
class Pt(Obj):
    ec: Ec | None = None
    ip: int | None = None
    pid: int | None = 0
    mtd: int | None = 0


@dataclass(eq=False)
class Sm(Obj):
    counter: int | None = 0
    waiters: list[Ec] = field(default_factory=list)
    waiters_complete: bool = True
    irq: int | None = -1  # interrupt number / id; -1 regular


@dataclass(eq=False)
class Dc(Obj):
    topo: int | None = None
    dmar: int | None = None
    intr: int | None = None
    dma: Space | None = None
    dma_known: bool = True


# --- CPUs and interrupts ---------------------------------------------------------------------------------


@dataclass(eq=False)
class Cpu:
    n: int
    ec: Ec | None = None  # current EC
    sc: Sc | None = None  # current SC
    ready: list[list[Sc]] = field(default_factory=lambda: [[] for _ in range(PRIORITIES)])
    ready_complete: bool = True
    release: list[Sc] = field(default_factory=list)
    release_complete: bool = True
    resched: bool = False
    drop: bool = False  # the current SC leaves the CPU at the end of the action (blocked, parked, dropped)
    awaiting: bool = False  # a predicted SCHED_SWITCH is not seen yet: the new EC resumes when it is
    disputed: bool = False  # the current EC/SC were adopted from a switch the model disagreed with
    donations: int | None = 0
    pending: deque = field(default_factory=deque)  # replay.reference.expect.Expect
    unclosed: list = field(default_factory=list)  # partial traces: calls whose (never recorded) exit is due
    learning: bool = (
        False  # post-gap, or an action the model cannot predict: outputs are learned silently until the next input
    )
    idle_ec: Ec | None = None
    idle_sc: Sc | None = None
    last_seq: int | None = None
    last_ts: int = -1  # time of this CPU's previous record (start of a gap's window)

    def ready_ids(self) -> list[Sc]:
        return [sc for level in reversed(self.ready) for sc in level]

    def top_ready(self) -> Sc | None:
        for level in reversed(self.ready):
            if level:
                return level[0]
        return None

    def top_prio(self) -> int:
        for p in range(PRIORITIES - 1, -1, -1):
            if self.ready[p]:
                return p
        return -1

    def unready(self, sc: Sc) -> bool:
        """Remove ``sc`` from the ready queue; True if it was there."""
        for level in self.ready:
            if sc in level:
                level.remove(sc)
                return True
        return False


@dataclass(eq=False)
class Irq:
    """One interrupt the kernel manages (MODEL.md 10.1)."""

    n: int
    kind: IrqKind
    sm: Sm | None = None
    cpu: int | None = 0
    src: int | None = 0
    flags: int | None = 0
    vec: int | None = None
    dc: Dc | None = None
    idx: int | None = None
    masked: bool | None = True
    active: bool | None = False


SPACE_SUBTYPES = (PdSubtype.OBJ, PdSubtype.HST, PdSubtype.GST, PdSubtype.DMA, PdSubtype.PIO, PdSubtype.MSR)
OBJ_CLASSES: dict[ObjType, type[Obj]] = {
    ObjType.EC: Ec,
    ObjType.SC: Sc,
    ObjType.PT: Pt,
    ObjType.SM: Sm,
    ObjType.DC: Dc,
}


_SUBTYPES = {ObjType.PD: 7, ObjType.EC: 4, ObjType.SC: 1, ObjType.PT: 1, ObjType.SM: 2, ObjType.DC: 1}


def split_type(typ: int) -> tuple[ObjType, int] | None:
    """OBJ_CREATED ``type`` word (ObjType << 8 | subtype) -> (type, subtype), None if impossible."""
    if typ < 0 or typ >> 8 not in _SUBTYPES:
        return None
    t = ObjType(typ >> 8)
    st = typ & 0xFF
    return (t, st) if st < _SUBTYPES[t] else None


def obj_class(t: ObjType, subtype: int | None) -> type[Obj]:
    if t == ObjType.PD:
        return Pd if subtype == PdSubtype.PD else Space
    return OBJ_CLASSES[t]


class Registry:
    """Objects by id; provisional ids -2, -3, ... for objects whose kernel id is not known yet."""

    def __init__(self) -> None:
        self.by_id: dict[int, Obj] = {}
        self.next_provisional = -2

    def get(self, oid: int) -> Obj | None:
        return self.by_id.get(oid)

    def add(self, obj: Obj) -> Obj:
        self.by_id[obj.id] = obj
        return obj

    def provisional_id(self) -> int:
        oid = self.next_provisional
        self.next_provisional -= 1
        return oid

    def make(self, t: ObjType, subtype: int | None, oid: int | None = None, **fields: Any) -> Obj:
        """A new object; ``oid`` None gives it a provisional id."""
        cls = obj_class(t, subtype)
        obj = cls(
            id=self.provisional_id() if oid is None else oid, type=t, subtype=subtype, bound=oid is not None, **fields
        )
        return self.add(obj)

    def discard(self, obj: Obj) -> None:
        if self.by_id.get(obj.id) is obj:
            del self.by_id[obj.id]

    def bind(self, obj: Obj, oid: int) -> bool:
        """Give provisional ``obj`` the kernel id ``oid``; False if that id names another object."""
        if obj.id == oid:
            return True
        other = self.by_id.get(oid)
        if other is not None and other is not obj:
            return False
        self.discard(obj)
        obj.id = oid
        obj.bound = True
        self.by_id[oid] = obj
        return True
