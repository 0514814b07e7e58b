"""``novatrace replay``: re-execute a trace against the NOVA kernel model and report every divergence."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from cli.main import EXIT_FINDINGS
from cli.output import emit_json, json_option, progress, salvage_option, stdout, warn
from tracefmt.nova import API_GENERATIONS


def _run(reader: Any, model: str | None, full: bool) -> tuple[Any, dict[str, Any]]:
    """Replay with the numba engine (or the reference model): the findings frame and a summary."""
    from replay.reference.api import recorded_kinds

    recorded = recorded_kinds(reader.meta.provenance)
    t0 = time.perf_counter()
    with progress(f"replaying {reader.path.name}", reader.num_rows) as advance:
        if full:
            frame, summary = _run_reference(reader, model, recorded, advance)
        else:
            from replay.engine import replay_engine

            eng = replay_engine(reader.platform, reader.batches(), model, recorded, advance)
            frame, summary = eng.findings_frame(), eng.summary()
            summary["model"] = "numba engine"
    secs = time.perf_counter() - t0
    summary["seconds"] = round(secs, 6)
    summary["events_per_s"] = round(summary["events"] / secs) if secs > 0 else None
    return frame, summary


def _run_reference(reader: Any, model: str | None, recorded: Any, advance: Any) -> tuple[Any, dict[str, Any]]:
    import numpy as np

    from replay.reference import findings_frame, replay_reference

    kinds: list[np.ndarray] = []

    def batches():  # type: ignore[no-untyped-def]
        for b in reader.batches():
            kinds.append(np.array(b.kind))
            advance(b.n)
            yield b

    res = replay_reference(reader.platform, batches(), model_api=model, recorded=recorded)
    all_kinds = np.concatenate(kinds) if kinds else np.zeros(0, np.uint8)
    summary = {
        "model": "reference model (--full)",
        "api": res.api,
        "arch": reader.platform.arch,
        "cpus": reader.platform.cpus,
        "events": res.events,
        "checked": {"rules": "all (replay/MODEL.md)"},
    }
    return findings_frame(res.findings, all_kinds), summary


@click.command()
@click.argument("trace", type=click.Path(path_type=Path))
@click.option(
    "--model",
    type=click.Choice(API_GENERATIONS),
    default=None,
    help="Replay under this kernel API generation instead of the trace's own (hypercall codes re-derived).",
)
@click.option("--full", is_flag=True, help="Use the complete plain-Python reference model (slow, every rule).")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Findings to list.")
@json_option
@salvage_option
@click.pass_context
def replay(
    ctx: click.Context, trace: Path, model: str | None, full: bool, limit: int, as_json: bool, salvage: bool
) -> None:
    """Replay TRACE through the NOVA kernel model and report where the recording diverges from it.

    The numba engine checks hypercall entry/exit pairing, selector aliasing, recorder loss, cold starts,
    malformed records and (x86 nova-2024) the EC an interrupt semaphore up wakes, at full speed; --full runs
    the reference model, which checks every rule of replay/MODEL.md (statuses, semaphores, scheduling,
    interrupts, IPC) but is about 1000x slower.
    Exit 0 if nothing is wrong, 1 if any WARNING or ERROR finding, 2 if TRACE is not a readable trace.

    \b
    Example:
      novatrace replay sample_traces/x86-tiny.parquet
      novatrace replay capture.parquet --model nova-2026 --json --limit 0
    """
    from tracefmt.io import open_trace

    reader = open_trace(trace, salvage=salvage)
    frame, summary = _run(reader, model, full)
    counts = Counter(zip(frame["name"].to_list(), frame["explanation"].to_list(), strict=True))
    severe = int((frame["severity"] != "INFO").sum())
    shown = frame.head(limit)
    if as_json:
        emit_json(
            {
                "file": str(trace),
                **summary,
                "findings_total": frame.height,
                "findings_by_code": {f"{n}/{e}": c for (n, e), c in sorted(counts.items())},
                "findings": shown.to_dicts(),
                "warnings": reader.warnings,
            }
        )
    else:
        for w in reader.warnings:
            warn(w)
        _print(trace, summary, counts, shown, frame.height)
    if severe:
        ctx.exit(EXIT_FINDINGS)


def _print(trace: Path, summary: dict[str, Any], counts: Counter, shown: Any, total: int) -> None:
    rate = summary.get("events_per_s")
    stdout.print(
        f"{trace}: {summary['events']:,} events replayed under {summary['api']} ({summary['model']}) in "
        f"{summary['seconds']:.3f} s" + (f" ({rate:,.0f} events/s)" if rate else "")
    )
    checked = summary.get("checked", {})
    if isinstance(checked.get("rules"), list):
        stdout.print(f"checked: {', '.join(checked['rules'])}")
        stdout.print(
            f"  {checked['hypercall_entries']:,} hypercalls, {checked['exits_paired']:,} exits paired, "
            f"{checked['exits_learned']:,} exits learned (unknown state)"
        )
        unchecked = summary.get("unchecked", {})
        if unchecked:
            stdout.print("not checked (learned): " + ", ".join(f"{k}: {v:,}" for k, v in unchecked.items()))
            stdout.print("  (use --full for every rule of replay/MODEL.md)")
    if not total:
        stdout.print("no findings")
        return
    by = Table(title=f"{total} finding(s)")
    for col in ("code", "explained by", "count"):
        by.add_column(col, justify="right" if col == "count" else "left")
    for (name, expl), n in sorted(counts.items()):
        by.add_row(name, expl, str(n))
    stdout.print(by)
    if shown.height:
        t = Table(title=f"first {shown.height} finding(s)" if shown.height < total else None)
        for col in ("event", "cpu", "severity", "code", "message"):
            t.add_column(col, justify="right" if col in ("event", "cpu") else "left")
        for r in shown.iter_rows(named=True):
            t.add_row(str(r["event"]), str(r["cpu"]), r["severity"], r["name"], r["message"])
        stdout.print(t)
