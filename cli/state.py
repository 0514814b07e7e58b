"""``novatrace state``: the kernel state at a time of a trace (reference model, resumed from checkpoints)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from cli.main import UserError
from cli.output import emit_json, json_option, progress, salvage_option, stdout, warn
from tracefmt.io import TraceReader, open_trace
from tracefmt.nova import API_2024, API_2026

_REL = re.compile(r"^\+(\d+(?:\.\d*)?|\.\d+)(s|ms|us)$")
_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def trace_span(reader: TraceReader) -> tuple[int, int] | None:
    """(first ts, last ts) of the trace, None if it holds no events."""
    first = last = None
    for b in reader.batches():
        if b.n:
            first = int(b.ts[0]) if first is None else first
            last = int(b.ts[-1])
    return None if first is None else (first, last)  # type: ignore[return-value]


def parse_ts(text: str, first: int, stc_hz: int) -> int:
    """TS as absolute STC ticks, or ``+<seconds>s`` (also ``ms``, ``us``) after the trace's first event."""
    t = text.strip().replace("_", "")
    m = _REL.match(t)
    if m:
        return first + round(float(m.group(1)) * _UNIT[m.group(2)] * stc_hz)
    try:
        return int(t, 0)
    except ValueError:
        raise UserError(f"--at {text!r}: expected STC ticks (e.g. 123456) or +<seconds>s (e.g. +1.5s)") from None


def parse_id(text: str) -> int:
    """An object id as printed (hex, possibly a 64-bit kernel address) or as the signed int64 of the trace."""
    try:
        v = int(text.strip(), 0)
    except ValueError:
        raise UserError(f"--pd {text!r}: expected an object id (e.g. 0xffff800000001000)") from None
    if not -(1 << 63) <= v < 1 << 64:
        raise UserError(f"--pd {text!r}: does not fit 64 bits")
    return v - (1 << 64) if v >= 1 << 63 else v


def hx(v: Any) -> str:
    if v is None:
        return "?"
    if isinstance(v, int):
        return "-" if v == 0 else f"{v & 0xFFFFFFFFFFFFFFFF:#x}"
    return str(v)


def ids(vs: list[int] | None) -> str:
    return "?" if vs is None else " ".join(hx(v) for v in vs) or "-"


def pd_caps(snap: dict[str, Any], pd: int) -> list[dict[str, Any]]:
    obj = next((o for o in snap["objects"] if o["id"] == pd), None)
    if obj is None or obj["type"] != "PD" or obj.get("subtype") != "PD":
        raise UserError(f"--pd {hx(pd)}: no protection domain with that id at this time")
    space = obj.get("obj")
    if space is None:
        return []
    return [c for c in snap["caps"] if c["space"] == space]


def _interesting_sm(o: dict[str, Any]) -> bool:
    return bool(o["waiters"]) or o["counter"] not in (0, None) or o["irq"] == -1


def _config(e: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(e[k] for k in ("kind", "cpu", "src", "flags", "vec", "dc", "idx", "masked", "active"))


def unusual_irqs(irqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries whose configuration differs from the most common one of their kind (the boot default)."""
    counts: dict[tuple[Any, ...], int] = {}
    for e in irqs:
        counts[_config(e)] = counts.get(_config(e), 0) + 1
    common: dict[Any, tuple[Any, ...]] = {}
    for cfg, n in counts.items():
        if n > 1 and (cfg[0] not in common or n > counts[common[cfg[0]]]):
            common[cfg[0]] = cfg
    return [e for e in irqs if common.get(e["kind"]) != _config(e)]


def _table(title: str, columns: tuple[str, ...]) -> Table:
    t = Table(title=title, show_edge=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    return t


def render(snap: dict[str, Any], caps: list[dict[str, Any]] | None, show_all: bool) -> None:
    objs = snap["objects"]
    counts: dict[str, int] = {}
    for o in objs:
        counts[o["type"]] = counts.get(o["type"], 0) + 1
    listed = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    stdout.print("objects  " + (listed or "none yet (the boot announcements are not complete)"))

    cpus = _table(
        "CPUs and run queues",
        ("cpu", "current EC", "current SC", "ready (prio order)", "release queue", "pending outputs"),
    )
    for c in snap["cpus"]:
        ready = ids(c["ready"]) + ("" if c["ready_complete"] else " +?")
        release = ids(c["release"]) + ("" if c["release_complete"] else " +?")
        cpus.add_row(str(c["cpu"]), hx(c["current_ec"]), hx(c["current_sc"]), ready, release, str(len(c["pending"])))
    stdout.print(cpus)

    ecs = _table("ECs", ("id", "subtype", "cpu", "pd", "cont", "open call", "blocked on", "caller", "callee"))
    for o in objs:
        if o["type"] == "EC":
            ecs.add_row(
                hx(o["id"]), str(o["subtype"]), str(o["cpu"]), hx(o["pd"]), str(o["cont"]), str(o["call"] or "-"),
                hx(o["blocked_on"]), hx(o["caller"]), hx(o["callee"]),
            )  # fmt: skip
    stdout.print(ecs)

    scs = _table("SCs", ("id", "cpu", "ec", "prio", "budget", "left", "state"))
    for o in objs:
        if o["type"] == "SC":
            scs.add_row(hx(o["id"]), str(o["cpu"]), hx(o["ec"]), str(o["prio"]), str(o["budget"]), str(o["left"]),
                        str(o["state"]))  # fmt: skip
    stdout.print(scs)

    sms = [o for o in objs if o["type"] == "SM"]
    shown = [o for o in sms if show_all or _interesting_sm(o)]
    t = _table("semaphores", ("id", "irq", "counter", "waiters"))
    for o in shown:
        waiters = ids(o["waiters"]) + ("" if o["waiters_complete"] else " +?")
        t.add_row(hx(o["id"]), "-" if o["irq"] == -1 else str(o["irq"]), str(o["counter"]), waiters)
    stdout.print(t)
    if len(shown) < len(sms):
        stdout.print(
            f"  {len(sms) - len(shown)} interrupt semaphores with counter 0 or unknown and no waiter not shown"
        )

    irqs = snap["interrupts"]
    shown_irqs = irqs if show_all else unusual_irqs(irqs)
    t = _table("interrupt table", ("irq", "kind", "sm", "cpu", "src", "flags", "vec", "masked", "active"))
    for e in shown_irqs:
        t.add_row(str(e["irq"]), str(e["kind"]), hx(e["sm"]), str(e["cpu"]), hx(e["src"]), str(e["flags"]),
                  str(e["vec"]), str(e["masked"]), str(e["active"]))  # fmt: skip
    stdout.print(t)
    if len(shown_irqs) < len(irqs):
        stdout.print(f"  {len(irqs) - len(shown_irqs)} interrupts in their kind's most common state not shown (--all)")

    if caps is not None:
        t = _table("capabilities of the PD", ("selector", "object", "type", "perms"))
        types = {o["id"]: o["type"] for o in objs}
        for c in caps:
            t.add_row(hx(c["sel"]) if c["sel"] else "0", hx(c["obj"]), types.get(c["obj"], "-"), str(c["perms"]))
        stdout.print(t)


@click.command()
@click.argument("trace", type=click.Path(path_type=Path))
@click.option("--at", "at_text", required=True, help="Time: STC ticks, or +<seconds>s after the first event.")
@click.option("--pd", "pd_text", default=None, help="Also list the capabilities of this PD (its id).")
@click.option("--model", "model_api", type=click.Choice([API_2024, API_2026]), default=None,
              help="Replay under this kernel API generation instead of the trace's.")  # fmt: skip
@click.option("--all", "show_all", is_flag=True, help="Show every semaphore and interrupt, idle ones included.")
@click.option("--no-cache", is_flag=True, help="Replay from the start; neither read nor write checkpoints.")
@click.option("--every", default=None, type=click.IntRange(min=1000), help="Events between checkpoints.")
@json_option
@salvage_option
def state(
    trace: Path,
    at_text: str,
    pd_text: str | None,
    model_api: str | None,
    show_all: bool,
    no_cache: bool,
    every: int | None,
    as_json: bool,
    salvage: bool,
) -> None:
    """The kernel state at time TS of TRACE: objects, run queues, semaphores, interrupt table, a PD's caps.

    The reference model replays the trace up to and including every event at or before TS. Checkpoints of
    the model are kept in ~/.cache/novatrace/checkpoints (per trace), so a later query resumes from the
    nearest one instead of the start.

    \b
    Example:
      novatrace state sample_traces/x86-tiny.parquet --at +0.000009s
      novatrace state sample_traces/x86-tiny.parquet --at 27800 --pd 0xffff8000001001c0 --json | jq .pd_caps
    """
    from replay.checkpoint import DEFAULT_EVERY, state_at

    reader = open_trace(trace, salvage=salvage)
    span = trace_span(reader)
    if span is None:
        raise UserError(f"{trace}: holds no events")
    at = parse_ts(at_text, span[0], reader.platform.stc_hz)
    if not span[0] <= at <= span[1]:
        raise UserError(f"--at {at_text}: ts {at} is outside the trace (ts {span[0]} .. {span[1]})")
    pd = parse_id(pd_text) if pd_text is not None else None
    with progress(f"replaying {trace.name} to ts {at}", reader.num_rows) as advance:
        res = state_at(reader, at, model_api, use_cache=not no_cache, every=every or DEFAULT_EVERY, advance=advance)
    for w in reader.warnings + res.warnings:
        warn(w)
    snap = res.result.snapshot()
    caps = pd_caps(snap, pd) if pd is not None else None
    info = {
        "file": str(trace),
        "at": at,
        "seconds_after_start": (at - span[0]) / reader.platform.stc_hz,
        "resumed_from_event": res.resumed_from,
        "checkpoints_written": res.saved,
        "findings_so_far": len(res.result.findings),
    }
    if as_json:
        emit_json({**info, "state": snap, **({"pd": pd, "pd_caps": caps} if pd is not None else {})})
        return
    model, pos = snap["model"], snap["position"]
    stdout.print(
        f"[bold]{trace}[/bold] at ts {at} (+{info['seconds_after_start']:.6f} s): after {pos['events']:,} events, "
        f"{model['api']} {model['arch']}, {model['cpus']} CPUs"
        + (f"; resumed from the checkpoint at event {res.resumed_from:,}" if res.resumed_from else "")
    )
    know = snap["knowledge"]
    if know["cold_start"] or know["losses"] or info["findings_so_far"]:
        stdout.print(
            f"knowledge: cold start {know['cold_start']}, {know['losses']} loss gap(s), "
            f"{info['findings_so_far']} finding(s) so far (novatrace replay lists them)"
        )
    render(snap, caps, show_all)
