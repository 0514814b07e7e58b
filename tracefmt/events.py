"""Event kinds and what each kind's argument words mean: the Python twin of FORMAT.md's kind table.

Every event row has the same columns (see :mod:`tracefmt.schema`); ``a0``..``a4`` are five int64 words
whose meaning depends on ``kind``. :data:`KIND_ARGS` names them per kind; :func:`tracefmt.decode.named`
turns them into named columns. A test keeps this module and FORMAT.md in step.

Conventions for every kind: object identities (EC, SC, SM, PT, PD, DC) are the kernel's object addresses
as a recorder sees them (``EC:%p`` in NOVA's own trace lines), bit-cast to int64; ``0`` means "none";
``-1`` means "not known to the recorder". Unused words are ``0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from tracefmt.nova import Ipi

UNKNOWN = -1  # a word the recorder could not fill
NONE = 0  # no object


class Kind(IntEnum):
    """Event kind (``kind`` column, uint8). Values are part of the file format: append, never renumber."""

    HC_ENTRY = 0
    HC_EXIT = 1
    IRQ_ARRIVAL = 2
    IRQ_MASK = 3
    IRQ_UNMASK = 4
    IRQ_EOI = 5
    IRQ_DEACTIVATE = 6
    SM_UP = 7
    SM_BLOCK = 8
    EC_WAKE = 9
    SCHED_SWITCH = 10
    IPI_SEND = 11
    IPI_RECV = 12
    INTR_FAULT = 13
    TIMEOUT = 14
    RECORDER_LOSS = 15
    MARKER = 16
    EC_KILL = 17
    EVENT_DELIVERY = 18
    OBJ_CREATED = 19


N_KINDS = len(Kind)
KIND_NAMES: dict[int, str] = {int(k): k.name for k in Kind}
HYPERCALL_KINDS = (Kind.HC_ENTRY, Kind.HC_EXIT)

# Inputs drive the kernel; everything else is an output the replay engine checks (DESIGN.md).
INPUT_KINDS = (Kind.HC_ENTRY, Kind.IRQ_ARRIVAL, Kind.TIMEOUT, Kind.IPI_RECV, Kind.MARKER)


class IrqKind(IntEnum):
    """Hardware interrupt class."""

    UNKNOWN = 0
    X86_PIN = 1  # IOAPIC pin (GSI)
    X86_MSI = 2  # MSI / MSI-X
    ARM_SGI = 3
    ARM_PPI = 4
    ARM_SPI = 5
    ARM_LPI = 6  # through a GIC ITS


class IrqCause(IntEnum):
    """Why the kernel masked/unmasked/EOIed/deactivated an interrupt."""

    ARRIVAL = 0  # interrupt handler (x86 level pin masked on arrival, Arm priority drop)
    DOWN = 1  # ctrl_sm down on the interrupt semaphore (acknowledge)
    ASSIGN = 2  # assign_int (re)configuration
    GUEST = 3  # guest-owned interrupt deactivated by the guest
    KERNEL = 4  # any other kernel path


class UpCause(IntEnum):
    HYPERCALL = 0  # ctrl_sm up
    INTERRUPT = 1  # interrupt handler
    CONSOLE = 2  # memory-buffer console line written


class WakeReason(IntEnum):
    SM_UP = 0  # a semaphore up released the EC
    TIMEOUT = 1  # its ctrl_sm deadline passed
    IPC_REPLY = 2  # the callee replied
    ABORTED = 3  # the callee died
    RECALL = 4  # ctrl_ec recall
    STARTUP = 5  # first run of a global EC / vCPU


class SwitchReason(IntEnum):
    """Why a CPU rescheduled (SCHED_SWITCH ``switch_reason``)."""

    BLOCK = 0  # the current EC blocked (ctrl_sm down, ipc_reply without caller, SC parked on a blocked EC)
    PREEMPT = 1  # a higher-priority SC became ready (local unblock or release-queue drain)
    BUDGET = 2  # the current SC's budget ran out and another SC of its priority was ready
    IPC_CALL = 3  # rendezvous: same SC continues in the callee EC
    IPC_REPLY = 4  # reply: same SC returns to the caller EC
    HELP = 5  # caller's SC runs a busy callee's chain (helping)
    KILL = 6  # the current EC was killed
    WAKE = 7  # the CPU was idle and an SC became ready
    OTHER = 8


class TimeoutKind(IntEnum):
    HYPERCALL = 0  # ctrl_sm down deadline
    BUDGET = 1  # SC budget exhausted


class FaultKind(IntEnum):
    """Interrupt translation faults (IOMMU interrupt remapping on x86, GIC ITS on Arm)."""

    IR_SID_MISMATCH = 0  # IRTE source validation failed: unauthorised source id
    IR_NOT_PRESENT = 1  # IRTE not present / index out of range
    ITS_UNMAPPED_DEVICE = 2  # no device table entry for the DeviceID
    ITS_UNMAPPED_EVENT = 3  # no ITT entry for the EventID
    OTHER = 4


class MarkerType(IntEnum):
    GENERIC = 0  # a note; a3 names it in the string table
    EXPECT_IRQ = 1  # a driver expects interrupt a1 by time a2
    PHASE_BEGIN = 2
    PHASE_END = 3


class KillReason(IntEnum):
    """``Killed EC`` reasons in release-24.08."""

    PT_NOT_FOUND = 0
    PT_WRONG_CPU = 1
    IPC_ABORT = 2
    BLOCKING = 3
    ILLEGAL = 4
    VM_ENTRY = 5


class EventClass(IntEnum):
    STARTUP = 0
    RECALL = 1
    EXCEPTION = 2
    VMEXIT = 3
    VTIMER = 4


@dataclass(frozen=True)
class KindSpec:
    """What the ``ec`` column and the words ``a0``..``a4`` hold for one kind; ``""`` = unused (0)."""

    ec: str
    args: tuple[str, str, str, str, str]
    summary: str


KIND_ARGS: dict[Kind, KindSpec] = {
    Kind.HC_ENTRY: KindSpec(
        "caller",
        ("p0", "p1", "p2", "p3", "p4"),
        "hypercall entry: raw argument registers; hc = decoded code",
    ),
    Kind.HC_EXIT: KindSpec(
        "caller",
        ("ret_p0", "out_p1", "out_p2", "created", "number"),
        "hypercall return: returned p0 (status), out registers, created object id (0 = none/unknown), "
        "raw hypercall number",
    ),
    Kind.IRQ_ARRIVAL: KindSpec(
        "interrupted",
        ("vector", "irq", "source", "irq_kind", "event_id"),
        "device interrupt taken on this CPU: vector (x86) or INTID (Arm), resolved interrupt number "
        "(-1 = none), source id, IrqKind, ITS EventID / IRTE index",
    ),
    Kind.IRQ_MASK: KindSpec("current", ("irq", "irq_kind", "cause", "", ""), "interrupt masked (IrqCause)"),
    Kind.IRQ_UNMASK: KindSpec("current", ("irq", "irq_kind", "cause", "", ""), "interrupt unmasked"),
    Kind.IRQ_EOI: KindSpec("current", ("irq", "irq_kind", "cause", "", ""), "end of interrupt / priority drop"),
    Kind.IRQ_DEACTIVATE: KindSpec(
        "current", ("irq", "irq_kind", "cause", "", ""), "interrupt deactivated (Arm DIR, x86 directed EOI)"
    ),
    Kind.SM_UP: KindSpec(
        "current",
        ("sm", "counter", "woken", "up_cause", "irq"),
        "semaphore up: counter after, woken EC (0 = none), UpCause, interrupt (-1 unless cause = INTERRUPT)",
    ),
    Kind.SM_BLOCK: KindSpec("blocked", ("sm", "deadline", "sc", "", ""), "EC blocks in ctrl_sm down"),
    Kind.EC_WAKE: KindSpec(
        "current",
        ("woken", "wake_reason", "object", "target_cpu", ""),
        "EC made runnable: WakeReason, related object (SM, callee EC), CPU it is bound to",
    ),
    Kind.SCHED_SWITCH: KindSpec(
        "to_ec", ("from_ec", "to_ec", "from_sc", "to_sc", "switch_reason"), "CPU switches EC and/or SC (SwitchReason)"
    ),
    Kind.IPI_SEND: KindSpec("current", ("target_cpu", "ipi", "", "", ""), "IPI sent (Ipi: RRQ, RKE)"),
    Kind.IPI_RECV: KindSpec("current", ("source_cpu", "ipi", "", "", ""), "IPI received (-1 = sender unknown)"),
    Kind.INTR_FAULT: KindSpec(
        "current",
        ("source", "fault", "info", "unit", ""),
        "interrupt translation fault: source id, FaultKind, IRTE index/EventID, IOMMU/ITS base",
    ),
    Kind.TIMEOUT: KindSpec(
        "current",
        ("timeout_kind", "object", "deadline", "", ""),
        "timer expiry: TimeoutKind, EC (hypercall deadline) or SC (budget), deadline",
    ),
    Kind.RECORDER_LOSS: KindSpec(
        "current",
        ("lost", "first_ts", "last_ts", "first_seq", ""),
        "the recorder dropped records on this CPU: count, time range (-1 = unknown), first lost seq",
    ),
    Kind.MARKER: KindSpec(
        "current",
        ("marker", "subject", "value", "string", ""),
        "user/driver marker: MarkerType, subject (interrupt, SM), value/deadline, string id (-1 = none)",
    ),
    Kind.EC_KILL: KindSpec("current", ("killed", "kill_reason", "", "", ""), "EC killed (KillReason)"),
    Kind.EVENT_DELIVERY: KindSpec(
        "faulting",
        ("event", "handler", "event_class", "portal", ""),
        "exception/startup/recall delivered through portal selector evt+event to handler EC",
    ),
    Kind.OBJ_CREATED: KindSpec(
        "creator",
        ("object", "type", "selector", "owner", "detail"),
        "kernel object came into existence: id, ObjType << 8 | subtype, selector it was inserted at (-1 = "
        "unknown), owning PD (0 = NOVA), detail (EC/SC: CPU; interrupt SM: interrupt number; SM: counter)",
    ),
}

assert set(KIND_ARGS) == set(Kind), "every kind needs an argument table"

# Per-kind enums stored in an argument word, for decoding and FORMAT.md.
WORD_ENUMS: dict[str, type[IntEnum]] = {
    "irq_kind": IrqKind,
    "cause": IrqCause,
    "up_cause": UpCause,
    "wake_reason": WakeReason,
    "switch_reason": SwitchReason,
    "kill_reason": KillReason,
    "timeout_kind": TimeoutKind,
    "fault": FaultKind,
    "marker": MarkerType,
    "event_class": EventClass,
    "ipi": Ipi,
}
