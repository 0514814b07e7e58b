"""Decoding raw hypercall registers into named fields, per kernel API generation.

A recorder stores ``p0..p4`` exactly as the kernel saw them (HC_ENTRY) and the returned registers
(HC_EXIT). Everything else - the generation-independent code in the ``hc`` column, selectors, flags and
sub-fields such as the CPU inside create_ec's ``p2`` - comes from the tables here, so one trace can be
decoded (and replayed) under either generation.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import polars as pl

from tracefmt.events import KIND_ARGS, Kind
from tracefmt.nova import (
    API_2024,
    API_2026,
    CTRL_PD_ORD_MASK,
    P0_FLAGS_MASK,
    P0_FLAGS_SHIFT,
    P0_NUMBER_MASK,
    P0_SEL_SHIFT,
    PMM_BITS,
    Hc,
    Status,
    hc_table,
)

INVALID_STATUS = 255  # returned p0 that is neither a status nor the ipc_call success quirk


class Field(NamedTuple):
    """``name = (p[reg] >> shift) & mask`` with logical (unsigned) shifts; ``mask = 0`` keeps all bits."""

    name: str
    reg: int
    shift: int = 0
    mask: int = 0


def _sel(name: str = "sel") -> Field:
    return Field(name, 0, P0_SEL_SHIFT)


_FLAGS = Field("flags", 0, P0_FLAGS_SHIFT, P0_FLAGS_MASK)

_COMMON: dict[Hc, tuple[Field, ...]] = {
    Hc.IPC_CALL: (_sel("pt_sel"), _FLAGS, Field("mtd", 1, 0, 0xFFFFFFFF)),
    Hc.IPC_REPLY: (Field("mtd", 1, 0, 0xFFFFFFFF),),
    Hc.CREATE_PD: (_sel(), Field("op", 0, P0_FLAGS_SHIFT, P0_FLAGS_MASK), Field("pd_sel", 1)),
    Hc.CREATE_EC: (
        _sel(),
        _FLAGS,
        Field("pd_sel", 1),
        Field("bind_cpu", 2, 0, 0xFFF),
        Field("hva_page", 2, 12),
        Field("sp", 3),
        Field("evt", 4),
    ),
    Hc.CREATE_SC: (
        _sel(),
        Field("pd_sel", 1),
        Field("ec_sel", 2),
        Field("budget_ms", 3, 0, 0xFFFF),
        Field("prio", 3, 16, 0x7F),
        Field("cos", 3, 23, 0xFFFF),
    ),
    Hc.CREATE_PT: (_sel(), Field("pd_sel", 1), Field("ec_sel", 2), Field("ip", 3)),
    Hc.CTRL_EC: (_sel("ec_sel"), _FLAGS),
    Hc.CTRL_SC: (_sel("sc_sel"),),
    Hc.CTRL_PT: (_sel("pt_sel"), Field("pid", 1), Field("mtd", 2, 0, 0xFFFFFFFF)),
    Hc.CTRL_SM: (_sel("sm_sel"), _FLAGS, Field("deadline", 1)),
    Hc.CTRL_HW: (Field("op", 0, P0_FLAGS_SHIFT, P0_FLAGS_MASK), _sel("desc")),  # spec 5.5.1, Sys_ctrl_hw::desc()
    Hc.RESERVED: (_sel(), _FLAGS),
}


def _ctrl_pd(api: str) -> tuple[Field, ...]:
    return (
        _sel("src_sel"),
        Field("dst_sel", 1),
        Field("ssb", 2, 12),
        Field("ord", 2, 0, CTRL_PD_ORD_MASK),
        Field("dsb", 3, 12),
        Field("pmm", 3, 0, (1 << PMM_BITS[api]) - 1),
        Field("mad", 4),
    )


# hypercall fields that name object-space selectors (NOVA uses their low 18 bits: replay/MODEL.md 5), in the
# order the replay models check them for aliasing
SELECTOR_FIELDS = (
    "sel",
    "pd_sel",
    "ec_sel",
    "sm_sel",
    "pt_sel",
    "src_sel",
    "dst_sel",
    "dc_sel",
    "dma_sel",
    "dma_old_sel",
    "dma_new_sel",
)

FIELDS: dict[str, dict[Hc, tuple[Field, ...]]] = {
    API_2024: {
        **_COMMON,
        Hc.CREATE_SM: (_sel(), Field("pd_sel", 1), Field("counter", 2)),
        Hc.CTRL_PD: _ctrl_pd(API_2024),
        Hc.ASSIGN_INT: (_sel("sm_sel"), _FLAGS, Field("route_cpu", 1, 0, 0xFFFF), Field("dev", 2, 0, 0xFFFF)),
        Hc.ASSIGN_DEV: (_sel("dma_sel"), Field("smmu_page", 1, 12), Field("dad", 2)),
    },
    API_2026: {
        **_COMMON,
        # flag I: p2 is the interrupt id (x86: segment[31:16] | GSI[15:0]; Arm: INTID), else the counter
        Hc.CREATE_SM: (_sel(), _FLAGS, Field("pd_sel", 1), Field("counter", 2)),
        Hc.CREATE_DC: (_sel(), Field("pd_sel", 1), Field("topo", 2), Field("dmar", 3), Field("intr", 4)),
        Hc.CTRL_PD: _ctrl_pd(API_2026),
        Hc.ASSIGN_INT: (
            _sel("sm_sel"),
            Field("op", 0, P0_FLAGS_SHIFT, 0x1),
            Field("dc_sel", 1),
            Field("cfg", 2, 0, 0xFF),
            Field("vec", 2, 8, 0xFF),
            Field("route_cpu", 2, 16, 0xFFFF),
            Field("idx", 2, 32, 0xFFFF),
        ),
        Hc.ASSIGN_DEV: (_sel("dc_sel"), Field("dma_old_sel", 1), Field("dma_new_sel", 2)),
    },
}

# What HC_EXIT's out registers mean, where a hypercall returns values (all generations).
EXIT_FIELDS: dict[Hc, tuple[str, str]] = {
    Hc.IPC_CALL: ("mtd", ""),
    Hc.CTRL_SC: ("used_ticks", ""),
    Hc.ASSIGN_INT: ("msi_addr", "msi_data"),
}


def _u(v: int) -> int:
    return v & 0xFFFFFFFFFFFFFFFF


def _extract(regs: tuple[int, ...], f: Field) -> int:
    v = _u(regs[f.reg]) >> f.shift
    return v & f.mask if f.mask else v


def decode_entry(api: str, p: tuple[int, int, int, int, int]) -> tuple[Hc, dict[str, int]]:
    """Hypercall code and named fields of one HC_ENTRY (``p`` = a0..a4). Values are unsigned."""
    hc = Hc(int(hc_table(api)[_u(p[0]) & P0_NUMBER_MASK]))
    fields = FIELDS[api].get(hc, ())
    return hc, {f.name: _extract(p, f) for f in fields}


def exit_status(hc: int, ret_p0: int) -> int:
    """Status of a returned p0: NOVA writes the status into p0, except on ipc_call success (p0 untouched)."""
    if 0 <= ret_p0 <= int(Status.MEM_CAP):
        return ret_p0
    if hc == Hc.IPC_CALL and (_u(ret_p0) & P0_NUMBER_MASK) == 0:
        return int(Status.SUCCESS)  # the caller reads back its own hypercall word
    return INVALID_STATUS


# --- vectorised forms ------------------------------------------------------------------------------------------


def fill_hc(kind: np.ndarray, a0: np.ndarray, a4: np.ndarray, api: str) -> np.ndarray:
    """The ``hc`` column from raw registers: entry p0 bits 3:0, exit word ``number``; 255 elsewhere."""
    table = hc_table(api)
    hc = np.full(len(kind), int(Hc.NONE), dtype=np.uint8)
    entry = kind == int(Kind.HC_ENTRY)
    exit_ = kind == int(Kind.HC_EXIT)
    hc[entry] = table[a0[entry].view(np.uint64) & np.uint64(P0_NUMBER_MASK)]
    hc[exit_] = table[a4[exit_].view(np.uint64) & np.uint64(P0_NUMBER_MASK)]
    return hc


def _field_expr(f: Field) -> pl.Expr:
    e = pl.col(f"a{f.reg}").reinterpret(signed=False)
    if f.shift:
        e = e // pl.lit(1 << f.shift, dtype=pl.UInt64)  # logical shift on unsigned
    if f.mask:
        e = e.and_(pl.lit(f.mask, dtype=pl.UInt64))
    return e


def hypercall_entries(lf: pl.LazyFrame | pl.DataFrame, api: str) -> pl.LazyFrame:
    """HC_ENTRY rows with one named column per field of any hypercall (null where it does not apply)."""
    lf = lf.lazy().filter(pl.col("kind") == int(Kind.HC_ENTRY))
    by_name: dict[str, list[tuple[Hc, Field]]] = {}
    for hc, fields in FIELDS[api].items():
        for f in fields:
            by_name.setdefault(f.name, []).append((hc, f))
    exprs = []
    for name, uses in by_name.items():
        e = pl.when(pl.col("hc") == int(uses[0][0])).then(_field_expr(uses[0][1]))
        for hc, f in uses[1:]:
            e = e.when(pl.col("hc") == int(hc)).then(_field_expr(f))
        exprs.append(e.otherwise(None).alias(name))
    return lf.with_columns(
        pl.col("hc").replace_strict({int(h): h.name.lower() for h in Hc}, return_dtype=pl.String).alias("hypercall"),
        *exprs,
    )


def status_expr() -> pl.Expr:
    """Status of HC_EXIT rows (see :func:`exit_status`) as a polars expression; null on other kinds."""
    p0 = pl.col("a0")
    low = p0.reinterpret(signed=False).and_(pl.lit(P0_NUMBER_MASK, dtype=pl.UInt64))
    quirk = (pl.col("hc") == int(Hc.IPC_CALL)) & (low == 0)
    return (
        pl.when(pl.col("kind") != int(Kind.HC_EXIT))
        .then(None)
        .when((p0 >= 0) & (p0 <= int(Status.MEM_CAP)))
        .then(p0)
        .when(quirk)
        .then(int(Status.SUCCESS))
        .otherwise(INVALID_STATUS)
        .cast(pl.UInt8)
        .alias("status")
    )


def named(lf: pl.LazyFrame | pl.DataFrame, kind: Kind) -> pl.LazyFrame:
    """Rows of one kind with a0..a4 (and ec) renamed to what FORMAT.md calls them; unused words dropped."""
    spec = KIND_ARGS[kind]
    lf = lf.lazy().filter(pl.col("kind") == int(kind))
    renames = {f"a{i}": name for i, name in enumerate(spec.args) if name}
    unused = [f"a{i}" for i, name in enumerate(spec.args) if not name]
    if spec.ec not in renames.values():
        renames["ec"] = spec.ec
    return lf.drop(unused).rename(renames)
