"""NOVA kernel ABI constants: the single source of truth for every number novatrace uses.

Names follow the NOVA interface specification (Jan 2024) and release-24.08 code (``inc/status.hpp``,
``inc/capability.hpp``, ``inc/*/abi.hpp``); ../shared/nova/domain.md cites the sources. Two kernel API
generations are modelled:

* ``nova-2024`` - the Jan 2024 specification and release code (hypercalls 0x0-0xe, 0xf reserved).
* ``nova-2026`` - the Device-Context generation (``create_dc`` at 0x7, the rest renumbered,
  ``assign_dev`` 0xe, ``assign_int`` 0xf).

Events carry a generation-independent hypercall code (:class:`Hc`); :data:`HC_BY_NUMBER` maps each
generation's raw hypercall number (``p0 & 0xf``) to it. Numba kernels use these values as plain ints
(``int(Hc.CTRL_SM)``), never the enum classes themselves.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

import numpy as np

# --- kernel API generations ---------------------------------------------------------------------------

API_2024 = "nova-2024"
API_2026 = "nova-2026"
API_GENERATIONS: tuple[str, ...] = (API_2024, API_2026)


class Hc(IntEnum):
    """Generation-independent hypercall code, stored in the ``hc`` column of hypercall events."""

    IPC_CALL = 0
    IPC_REPLY = 1
    CREATE_PD = 2
    CREATE_EC = 3
    CREATE_SC = 4
    CREATE_PT = 5
    CREATE_SM = 6
    CREATE_DC = 7
    CTRL_PD = 8
    CTRL_EC = 9
    CTRL_SC = 10
    CTRL_PT = 11
    CTRL_SM = 12
    CTRL_HW = 13
    ASSIGN_INT = 14
    ASSIGN_DEV = 15
    RESERVED = 16  # a number with no hypercall in this generation (nova-2024 0xf): BAD_HYP
    NONE = 255  # the event is not a hypercall event


HC_NAMES: dict[int, str] = {int(h): h.name.lower() for h in Hc}

# raw number (p0 bits 3:0) -> Hc, per generation (domain.md section 10.1)
HC_BY_NUMBER: dict[str, tuple[Hc, ...]] = {
    API_2024: (
        Hc.IPC_CALL,
        Hc.IPC_REPLY,
        Hc.CREATE_PD,
        Hc.CREATE_EC,
        Hc.CREATE_SC,
        Hc.CREATE_PT,
        Hc.CREATE_SM,
        Hc.CTRL_PD,
        Hc.CTRL_EC,
        Hc.CTRL_SC,
        Hc.CTRL_PT,
        Hc.CTRL_SM,
        Hc.CTRL_HW,
        Hc.ASSIGN_INT,
        Hc.ASSIGN_DEV,
        Hc.RESERVED,
    ),
    API_2026: (
        Hc.IPC_CALL,
        Hc.IPC_REPLY,
        Hc.CREATE_PD,
        Hc.CREATE_EC,
        Hc.CREATE_SC,
        Hc.CREATE_PT,
        Hc.CREATE_SM,
        Hc.CREATE_DC,
        Hc.CTRL_PD,
        Hc.CTRL_EC,
        Hc.CTRL_SC,
        Hc.CTRL_PT,
        Hc.CTRL_SM,
        Hc.CTRL_HW,
        Hc.ASSIGN_DEV,
        Hc.ASSIGN_INT,
    ),
}


def hc_table(api: str) -> np.ndarray:
    """uint8[16] lookup: raw hypercall number -> :class:`Hc` code for generation ``api``."""
    try:
        codes = HC_BY_NUMBER[api]
    except KeyError:
        raise ValueError(f"unknown kernel API generation {api!r} (known: {', '.join(API_GENERATIONS)})") from None
    return np.array([int(c) for c in codes], dtype=np.uint8)


def hc_number(api: str, hc: Hc | int) -> int:
    """The raw hypercall number of ``hc`` in generation ``api`` (ValueError if it has none)."""
    codes = HC_BY_NUMBER[api]
    for number, code in enumerate(codes):
        if code == hc:
            return number
    raise ValueError(f"{Hc(hc).name.lower()} does not exist in {api}")


# --- status codes (inc/status.hpp, spec 5.1.2) ---------------------------------------------------------


class Status(IntEnum):
    SUCCESS = 0x0
    TIMEOUT = 0x1
    ABORTED = 0x2
    OVRFLOW = 0x3
    BAD_HYP = 0x4
    BAD_CAP = 0x5
    BAD_PAR = 0x6
    BAD_FTR = 0x7
    BAD_CPU = 0x8
    BAD_DEV = 0x9
    MEM_OBJ = 0xA
    MEM_CAP = 0xB


STATUS_NAMES: dict[int, str] = {int(s): s.name for s in Status}

# --- hypercall word layout (p0) --------------------------------------------------------------------------

P0_NUMBER_MASK = 0xF  # bits 3:0 hypercall number
P0_FLAGS_SHIFT = 4  # bits 7:4 flags
P0_FLAGS_MASK = 0xF
P0_SEL_SHIFT = 8  # bits 63:8 first selector argument


class FlagIpcCall(IntFlag):
    T = 0x1  # don't wait if the callee is busy -> TIMEOUT


class FlagCreateEc(IntFlag):
    G = 0x1  # guest: vCPU
    T = 0x2  # host: global thread; vCPU: TSC/time offsetting
    F = 0x4  # FPU


class FlagCtrlEc(IntFlag):
    S = 0x1  # strong recall


class FlagCtrlSm(IntFlag):
    D = 0x1  # down (0 = up)
    Z = 0x2  # down: zero the counter


class FlagAssignInt2024(IntFlag):
    M = 0x1  # mask
    T = 0x2  # level trigger
    P = 0x4  # active-low polarity
    G = 0x8  # guest-owned


class FlagCreateSm2026(IntFlag):
    I = 0x1  # noqa: E741 - interrupt semaphore (nova-2026)


class FlagAssignInt2026(IntFlag):
    ATTACH = 0x1  # op: 1 attach, 0 detach


class CreatePdOp(IntEnum):
    """create_pd flags field (a 4-bit value, not bits): what to create."""

    PD = 0
    OBJ = 1
    HST = 2
    GST = 3
    DMA = 4
    PIO = 5
    MSR = 6


class CtrlHwOp(IntEnum):
    SLEEP = 0
    QOS = 4
    L3_MASK = 5
    L2_MASK = 6
    MBA = 7


# --- kernel objects (inc/kobject.hpp) ---------------------------------------------------------------------


class ObjType(IntEnum):
    PD = 0
    EC = 1
    SC = 2
    PT = 3
    SM = 4
    DC = 5  # nova-2026 only


class PdSubtype(IntEnum):
    """Subtypes of PD-type objects: a PD itself or one of its spaces."""

    PD = 0
    OBJ = 1
    HST = 2
    GST = 3
    DMA = 4
    PIO = 5
    MSR = 6


class EcSubtype(IntEnum):
    LOCAL = 0
    GLOBAL = 1
    VCPU_REAL = 2
    VCPU_OFFS = 3


class SmSubtype(IntEnum):
    REG = 0
    INT = 1  # interrupt semaphore


# --- capability permission bits (inc/capability.hpp; domain.md 3.2, 10.4) -----------------------------------


class PermSp(IntFlag):
    GRANT = 0x1
    TAKE = 0x2
    ASSIGN = 0x4


PERM_SP_DEFINED: dict[PdSubtype, int] = {
    PdSubtype.OBJ: 0x3,
    PdSubtype.HST: 0x3,
    PdSubtype.GST: 0x5,
    PdSubtype.DMA: 0x5,
    PdSubtype.PIO: 0x7,
    PdSubtype.MSR: 0x7,
}


class PermPd(IntFlag):
    PD = 0x1
    EC = 0x2
    SC = 0x4
    PT = 0x8
    SM = 0x10
    # nova-2026: authority for create_dc and interrupt semaphores. The bit value is not public
    # (domain.md 8.2); novatrace assumes the next bit with a 6-bit permission mask. See replay/MODEL.md.
    DC = 0x20


PERM_PD_DEFINED: dict[str, int] = {API_2024: 0x1F, API_2026: 0x3F}
PMM_BITS: dict[str, int] = {API_2024: 5, API_2026: 6}  # width of ctrl_pd's permission mask field


class PermEc(IntFlag):
    CTRL = 0x1
    BIND_PT = 0x4
    BIND_SC = 0x8


PERM_EC_DEFINED = 0xD


class PermSc(IntFlag):
    CTRL = 0x1


PERM_SC_DEFINED = 0x1


class PermPt(IntFlag):
    CTRL = 0x1
    CALL = 0x2
    EVENT = 0x4


PERM_PT_DEFINED = 0x7


class PermSm(IntFlag):
    CTRL_UP = 0x1
    CTRL_DN = 0x2
    ASSIGN = 0x10


PERM_SM_DEFINED = 0x3  # regular semaphore
PERM_SM_DEFINED_INT = 0x12  # interrupt semaphore: no CTRL_UP


class PermDc(IntFlag):
    """nova-2026 Device Context permissions (values assumed, domain.md 8.2)."""

    ASSIGN_DEV = 0x1
    ASSIGN_INT = 0x2


PERM_DC_DEFINED = 0x3


class PermMem(IntFlag):
    R = 0x1
    W = 0x2
    XU = 0x4
    XS = 0x8


class PermPio(IntFlag):
    A = 0x1


class PermMsr(IntFlag):
    R = 0x1
    W = 0x2


# --- selectors (inc/space_obj.hpp; domain.md 10.5) ----------------------------------------------------------

SELNUM = 1 << 18  # object-space selectors per space; lookups use the low 18 bits only
SEL_MASK = SELNUM - 1
MCO_OBJ = 9  # largest delegation order for object spaces
MCO_PIO = 16
MCO_MSR = 16

# NOVA object space (the kernel's own), reached by the root through its selector SELNUM-1
NOVA_SEL_CONSOLE_SM = SELNUM - 1
NOVA_SEL_NOVA_OBJ = SELNUM - 2
NOVA_SEL_NOVA_HST = SELNUM - 3
NOVA_SEL_NOVA_PIO = SELNUM - 4  # x86
NOVA_SEL_NOVA_MSR = SELNUM - 5  # x86
NOVA_SEL_ROOT_OBJ = SELNUM - 6
NOVA_SEL_ROOT_HST = SELNUM - 7
NOVA_SEL_ROOT_PIO = SELNUM - 8  # x86
NOVA_SEL_ROOT_PD = SELNUM - 9  # in code, not in the specification table
NOVA_SEL_INT_BASE = 1 << 16  # nova-2024: interrupt semaphore n at 0x10000 + n
NOVA_SEL_IDLE_SC_BASE = 0  # idle SC of CPU c at selector c

# Root object space as the kernel builds it (Ec::create_root)
ROOT_SEL_NOVA_OBJ = SELNUM - 1
ROOT_SEL_ROOT_OBJ = SELNUM - 2
ROOT_SEL_ROOT_PD = SELNUM - 3
ROOT_SEL_ROOT_EC = SELNUM - 4
ROOT_SEL_ROOT_SC = SELNUM - 5

# --- scheduler ---------------------------------------------------------------------------------------------

PRIORITIES = 128  # 0 = idle, user 1..127
ROOT_SC_PRIO = 127
IDLE_SC_PRIO = 0
ROOT_SC_BUDGET_MS = 1000
IDLE_SC_BUDGET_MS = 1000

# create_sc p3 (SCD) layout
SCD_BUDGET_MASK = 0xFFFF  # bits 15:0, milliseconds
SCD_PRIO_SHIFT = 16
SCD_PRIO_MASK = 0x7F  # bits 22:16
SCD_COS_SHIFT = 23
SCD_COS_MASK = 0xFFFF  # bits 38:23

# create_ec p2 layout
CREATE_EC_CPU_MASK = 0xFFF  # bits 11:0
CREATE_EC_HVA_SHIFT = 12

# ctrl_pd p2/p3 layout
CTRL_PD_ORD_MASK = 0x1F  # p2 bits 4:0
CTRL_PD_BASE_SHIFT = 12  # p2/p3 bits 63:12 selector base

# ipc
MTD_WORDS_MASK = 0x1FF  # words copied = (mtd % 512) + 1
UTCB_WORDS = 512

# --- event selectors (inc/*/event.hpp; domain.md 2.5) ---------------------------------------------------------

EVT_STARTUP = 0  # + SELHST/ARCH or SELGST/ARCH
EVT_RECALL = 1
SEL_HST_ARCH = {"x86_64": 32, "aarch64": 64}
SEL_GST_ARCH = {"x86_64": 256, "aarch64": 64}

# --- IPIs ---------------------------------------------------------------------------------------------------


class Ipi(IntEnum):
    RRQ = 0  # remote ready-queue drain
    RKE = 1  # remote kernel entry


# --- x86_64 interrupt layout, nova-2024 (inc/x86_64/vectors.hpp) -----------------------------------------------

X86_NUM_VEC = 256
X86_NUM_GSI = 217  # 256 - 32 exceptions - 1 fault - 2 IPI - 4 LVT
X86_VEC_GSI = 0x20  # nova-2024: vector = 0x20 + GSI on every CPU
X86_VEC_LVT = 0xF9
X86_VEC_IPI = 0xFD  # 0xfd RRQ, 0xfe RKE
X86_VEC_FLT = 0xFF  # IOMMU fault event
X86_MSI_ADDR_BASE = 0xFEE00000
X86_MSI_ADDR_IR = 0xFEE00018  # remappable format (bit 4) + SHV (bit 3), handle 0

# --- aarch64 GIC layout ---------------------------------------------------------------------------------------------

ARM_BASE_SGI = 0
ARM_BASE_PPI = 16
ARM_BASE_SPI = 32
ARM_BASE_RSV = 1020
ARM_BASE_LPI = 8192
ARM_NUM_SPI = 988
