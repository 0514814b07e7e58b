"""``novatrace tables``: per-interrupt, per-hypercall and per-IPC tables of a trace, as Parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import polars as pl
from rich.table import Table

from cli.main import UserError
from cli.output import emit_json, json_option, progress, salvage_option, stdout, warn
from tracefmt.events import IrqKind, Kind
from tracefmt.io import open_trace

FILES = {"interrupts": "interrupts.parquet", "hypercalls": "hypercalls.parquet", "ipc": "ipc.parquet"}
PERCENTILES = (0.5, 0.9, 0.99)


def kind_name(kind: int) -> str:
    try:
        return IrqKind(kind).name
    except ValueError:
        return str(kind)


def latency_summary(irqs: pl.DataFrame, stc_hz: int) -> list[dict[str, Any]]:
    """Arrival -> waiter running per interrupt kind: count and percentiles in ticks and microseconds."""
    lat = irqs.filter(pl.col("arrival_to_running").is_not_null())
    out = []
    for (kind,), g in sorted(lat.group_by("irq_kind"), key=lambda kg: kg[0][0]):
        s = g["arrival_to_running"]
        ticks = {f"p{round(q * 100)}": int(s.quantile(q, "nearest")) for q in PERCENTILES}  # type: ignore[arg-type]
        ticks["max"] = int(s.max())  # type: ignore[arg-type]
        out.append(
            {
                "irq_kind": kind_name(kind),
                "count": len(s),
                "ticks": ticks,
                "us": {k: v * 1e6 / stc_hz for k, v in ticks.items()},
            }
        )
    return out


def summarize(tables: dict[str, pl.DataFrame], stc_hz: int) -> dict[str, Any]:
    def outcomes(df: pl.DataFrame) -> dict[str, int]:
        counts = df["outcome"].value_counts(sort=True)
        return {str(o): int(n) for o, n in counts.iter_rows()}

    return {
        "rows": {name: len(df) for name, df in tables.items()},
        "outcomes": {name: outcomes(df) for name, df in tables.items()},
        "latency_arrival_to_running": latency_summary(tables["interrupts"], stc_hz),
    }


def write_tables(tables: dict[str, pl.DataFrame], out: Path) -> dict[str, str]:
    """Each table to ``out/<name>.parquet`` through a ``.partial`` file, so no half file has the real name."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{out}: cannot create the output directory ({e.strerror or e})") from None
    if not out.is_dir():
        raise UserError(f"{out}: not a directory")
    written = {}
    for name, df in tables.items():
        dst = out / FILES[name]
        tmp = dst.with_name(dst.name + ".partial")
        try:
            df.write_parquet(tmp)
            tmp.replace(dst)
        finally:
            tmp.unlink(missing_ok=True)
        written[name] = str(dst)
    return written


@click.command()
@click.argument("trace", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), required=True, help="Directory for the tables.")
@json_option
@salvage_option
def tables(trace: Path, out: Path, as_json: bool, salvage: bool) -> None:
    """Derive per-interrupt, per-hypercall and per-IPC tables from TRACE into DIR (Parquet).

    interrupts.parquet: one row per interrupt occurrence with its lifecycle (arrival, mask, semaphore up,
    waiter woken, waiter running, acknowledge, unmask/deactivate: event index and timestamp of each step)
    and its outcome; hypercalls.parquet: entry/exit pairs per EC with duration and status; ipc.parquet:
    call, reply and return of every IPC (ipc_call and event delivery) with the round trip.

    \b
    Example:
      novatrace tables sample_traces/x86-tiny.parquet -o tables/
      novatrace tables --json capture.parquet -o t/ | jq .latency_arrival_to_running
    """
    from replay.reference.api import recorded_kinds
    from replay.tables import TableBuilder

    reader = open_trace(trace, salvage=salvage)
    recorded = recorded_kinds(reader.meta.provenance)
    builder = TableBuilder(reader.platform.cpus, exits=recorded is None or int(Kind.HC_EXIT) in recorded)
    with progress(f"deriving tables of {trace.name}", reader.num_rows) as advance:
        for b in reader.batches():
            builder.feed(b)
            advance(b.n)
    result = builder.finish()._asdict()
    for w in reader.warnings:
        warn(w)
    written = write_tables(result, out)
    s = {"file": str(trace), "events": builder.events, "written": written, **summarize(result, reader.platform.stc_hz)}
    if as_json:
        emit_json(s)
        return
    stdout.print(f"[bold]{trace}[/bold]: {builder.events:,} events -> {out}")
    rows = Table(title="tables", show_edge=False)
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    rows.add_column("outcomes")
    for name, n in s["rows"].items():
        rows.add_row(FILES[name], f"{n:,}", ", ".join(f"{o} {c:,}" for o, c in s["outcomes"][name].items()))
    stdout.print(rows)
    lat = s["latency_arrival_to_running"]
    if not lat:
        stdout.print("arrival -> running: no handled interrupt")
        return
    t = Table(title="arrival -> waiter running (us)", show_edge=False)
    t.add_column("irq kind")
    t.add_column("count", justify="right")
    for k in ("p50", "p90", "p99", "max"):
        t.add_column(k, justify="right")
    for row in lat:
        us = row["us"]
        t.add_row(row["irq_kind"], f"{row['count']:,}", *(f"{us[k]:.3f}" for k in ("p50", "p90", "p99", "max")))
    stdout.print(t)
