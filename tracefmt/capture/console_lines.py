"""NOVA's console trace lines (domain.md section 9): one regex per format string, per API generation.

Each TRACE_SYSCALL line is turned back into the raw argument registers p0..p4 the hypercall was entered
with, so that :mod:`tracefmt.decode` gives the printed fields back. Fields NOVA does not print are 0 and
listed in :data:`NOT_PRINTED`. Values printed with ``%#lx`` are hex (``0x0`` for zero in NOVA's printf,
plain ``0`` accepted too); ``%u``/``%lu`` are decimal.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tracefmt.builder import to_i64
from tracefmt.nova import (
    API_2024,
    API_2026,
    CREATE_EC_CPU_MASK,
    CTRL_PD_BASE_SHIFT,
    P0_FLAGS_SHIFT,
    P0_SEL_SHIFT,
    SCD_COS_SHIFT,
    SCD_PRIO_SHIFT,
    FlagCreateSm2026,
    FlagCtrlEc,
    Hc,
    hc_number,
)

LINE = re.compile(r"^\[\s*(-?\d+)\] (.*)$")
SYSCALL = re.compile(r"^EC:(0x[0-9a-f]+) sys_(\w+)(?: (.*))?$")
CREATED = re.compile(r"^(PD|EC|SC|PT|SM|DC):(0x[0-9a-f]+) created(?: \((.*)\))?$")
KILLED = re.compile(r"^Killed EC:(0x[0-9a-f]+) \((.*)\)$")
ROUTING = re.compile(r"^INTR: Routing (GSI|SPI) (0x[0-9a-f]+) \(([MU])([LE])([LHG])\) (.*)$")
ROUTE_2024 = re.compile(r"^to CPU (\d+)$")
ROUTE_2026 = re.compile(
    r"^from ([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7]) to (0x[0-9a-f]+):(0x[0-9a-f]+) \((\w+)\)$"
)
KV = re.compile(r"([A-Za-z]+):(0x[0-9a-f]+|\d+)")
# what makes a line a trace line we should understand (anything else is console chatter and skipped)
LOOKS_LIKE_TRACE = re.compile(r"EC:0x[0-9a-f]* sys_|^(PD|EC|SC|PT|SM|DC):0x[0-9a-f]+ created|Killed EC|INTR: Routing")

H = r"(0x[0-9a-f]+|0)"  # %#lx / %#x
D = r"(\d+)"  # %u / %lu

# hypercall name -> (args regex, field names) per generation
_COMMON: dict[str, tuple[str, tuple[str, ...]]] = {
    "create_pd": (rf"SEL:{H} PD:{H} \(OP:{D}\)", ("sel", "pd", "op")),
    "create_ec": (rf"SEL:{H} PD:{H} CPU:{H} HVA:{H} SP:{H} EVT:{H}", ("sel", "pd", "cpu", "hva", "sp", "evt")),
    "create_sc": (rf"SEL:{H} PD:{H} EC:{H} P:{D} B:{D} C:{D}", ("sel", "pd", "ec", "prio", "budget", "cos")),
    "create_pt": (rf"SEL:{H} PD:{H} EC:{H} IP:{H}", ("sel", "pd", "ec", "ip")),
    "ctrl_pd": (rf"SRC:{H} DST:{H} SSB:{H} DSB:{H} ORD:{D} PMM:{H}", ("src", "dst", "ssb", "dsb", "ord", "pmm")),
    "ctrl_ec": (rf"EC:{H} \(([SW])\)", ("ec", "strong")),
    "ctrl_sc": (rf"SC:{H}", ("sc",)),
    "ctrl_pt": (rf"PT:{H} ID:{H} MTD:{H}", ("pt", "id", "mtd")),
    "ctrl_sm": (rf"SM:{H} OP:{D}", ("sm", "op")),
    "ctrl_hw": (rf"OP:{D} DESC:{H}", ("op", "desc")),
}
FORMATS: dict[str, dict[str, tuple[re.Pattern[str], tuple[str, ...]]]] = {
    API_2024: {
        name: (re.compile("^" + rx + "$"), f)
        for name, (rx, f) in {
            **_COMMON,
            "create_sm": (rf"SEL:{H} PD:{H} CNT:{D}", ("sel", "pd", "cnt")),
            "assign_int": (rf"SM:{H} CPU:{D} FLG:{H}", ("sm", "cpu", "flg")),
            "assign_dev": (rf"DMA:{H} SMMU:{H} DAD:{H}", ("dma", "smmu", "dad")),
        }.items()
    },
    API_2026: {
        name: (re.compile("^" + rx + "$"), f)
        for name, (rx, f) in {
            **_COMMON,
            "create_sm": (rf"SEL:{H} PD:{H} ([A-Z]+):{H}", ("sel", "pd", "tag", "cnt")),
            "create_dc": (rf"SEL:{H} PD:{H}", ("sel", "pd")),
            "assign_int": (
                rf"OP:{D} SM:{H} DC:{H} IDX:{H} CPU:{D} VEC:{H} CFG:{H}",
                ("op", "sm", "dc", "idx", "cpu", "vec", "cfg"),
            ),
            "assign_dev": (rf"DC:{H} DMA:{H}->{H}", ("dc", "old", "new")),
        }.items()
    },
}

# register fields NOVA's trace lines leave out; the importer sets them to 0
NOT_PRINTED: dict[str, tuple[str, ...]] = {
    API_2024: (
        "create_ec flag F (G and T come from the matching 'created' line)",
        "ctrl_sm flag Z and deadline (p1)",
        "ctrl_pd memory attributes (p4)",
        "assign_int device id (p2)",
    ),
    API_2026: (
        "create_ec flag F (G and T come from the matching 'created' line)",
        "ctrl_sm flag Z and deadline (p1)",
        "ctrl_pd memory attributes (p4)",
        "create_dc topo, dmar, intr (p2..p4)",
    ),
}

KILL_REASONS = {
    "PT not found": 0,
    "PT wrong CPU": 1,
    "IPC Abort": 2,
    "Blocking": 3,
    "Illegal execution state": 4,
    "VM entry failure": 5,
}  # -> tracefmt.events.KillReason (same order, checked by a test)


class Hypercall(NamedTuple):
    hc: Hc
    regs: tuple[int, int, int, int, int]  # p0..p4 as int64
    fields: dict[str, int]  # printed values by name


def number(text: str) -> int:
    return int(text, 16) if text.startswith("0x") else int(text)


def parse_hypercall(api: str, name: str, args: str) -> Hypercall | None:
    """The registers of one TRACE_SYSCALL line (``sys_<name> <args>``) under ``api``, or None if it does not
    match that generation's format."""
    fmt = FORMATS[api].get(name)
    if fmt is None:
        return None
    m = fmt[0].match(args)
    if m is None:
        return None
    f = {key: (val if key in ("strong", "tag") else number(val)) for key, val in zip(fmt[1], m.groups(), strict=True)}
    hc = Hc[name.upper()]

    def p0(sel: int, flags: int = 0) -> int:
        return (sel << P0_SEL_SHIFT) | ((flags & 0xF) << P0_FLAGS_SHIFT) | hc_number(api, hc)

    regs = _REGS[name](f, p0)
    if name == "create_sm" and api == API_2026:
        regs = (p0(f["sel"], int(FlagCreateSm2026.I) if f["tag"] != "CNT" else 0), *regs[1:])
    mask = (1 << 64) - 1
    return Hypercall(hc, tuple(to_i64(r & mask) for r in regs), f)  # type: ignore[arg-type]


def _assign_int(f: dict, p0) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    if "flg" in f:  # nova-2024
        return p0(f["sm"], f["flg"]), f["cpu"], 0, 0, 0
    p2 = f["cfg"] & 0xFF | (f["vec"] & 0xFF) << 8 | (f["cpu"] & 0xFFFF) << 16 | (f["idx"] & 0xFFFF) << 32
    return p0(f["sm"], f["op"]), f["dc"], p2, 0, 0


def _assign_dev(f: dict, p0) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    if "dma" in f:  # nova-2024
        return p0(f["dma"]), f["smmu"], f["dad"], 0, 0
    return p0(f["dc"]), f["old"], f["new"], 0, 0


_REGS = {
    "create_pd": lambda f, p0: (p0(f["sel"], f["op"]), f["pd"], 0, 0, 0),
    "create_ec": lambda f, p0: (
        p0(f["sel"]),
        f["pd"],
        f["hva"] & ~CREATE_EC_CPU_MASK | f["cpu"] & CREATE_EC_CPU_MASK,
        f["sp"],
        f["evt"],
    ),
    "create_sc": lambda f, p0: (
        p0(f["sel"]),
        f["pd"],
        f["ec"],
        f["budget"] & 0xFFFF | (f["prio"] & 0x7F) << SCD_PRIO_SHIFT | (f["cos"] & 0xFFFF) << SCD_COS_SHIFT,
        0,
    ),
    "create_pt": lambda f, p0: (p0(f["sel"]), f["pd"], f["ec"], f["ip"], 0),
    "create_sm": lambda f, p0: (p0(f["sel"]), f["pd"], f["cnt"], 0, 0),
    "create_dc": lambda f, p0: (p0(f["sel"]), f["pd"], 0, 0, 0),
    "ctrl_pd": lambda f, p0: (
        p0(f["src"]),
        f["dst"],
        f["ssb"] << CTRL_PD_BASE_SHIFT | f["ord"],
        f["dsb"] << CTRL_PD_BASE_SHIFT | f["pmm"],
        0,
    ),
    "ctrl_ec": lambda f, p0: (p0(f["ec"], int(FlagCtrlEc.S) if f["strong"] == "S" else 0), 0, 0, 0, 0),
    "ctrl_sc": lambda f, p0: (p0(f["sc"]), 0, 0, 0, 0),
    "ctrl_pt": lambda f, p0: (p0(f["pt"]), f["id"], f["mtd"], 0, 0),
    "ctrl_sm": lambda f, p0: (p0(f["sm"], f["op"] & 1), 0, 0, 0, 0),
    "ctrl_hw": lambda f, p0: (p0(f["desc"], f["op"]), 0, 0, 0, 0),
    "assign_int": _assign_int,
    "assign_dev": _assign_dev,
}


def other_generation(api: str) -> str:
    return API_2026 if api == API_2024 else API_2024


def kv(text: str) -> dict[str, int]:
    """``KEY:value`` pairs of a line (``CPU:1 Budget:1000ms`` -> {"CPU": 1, "Budget": 1000})."""
    return {k: number(v) for k, v in KV.findall(text)}
