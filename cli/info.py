"""``novatrace info``: what a trace holds - platform, duration, events per kind and CPU, losses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from cli.output import emit_json, json_option, progress, salvage_option, seconds, stdout, warn
from tracefmt.events import KIND_NAMES
from tracefmt.io import TraceReader, open_trace
from tracefmt.validate import Report, check


def summarize(reader: TraceReader, report: Report) -> dict[str, Any]:
    """The JSON form of ``info`` (also what the human output is printed from)."""
    p = reader.platform
    span = None if report.ts_min is None else report.ts_max - report.ts_min  # type: ignore[operator]
    capture = reader.meta.provenance.get("capture", {})
    ts_unit = capture.get("ts_unit", "stc")
    return {
        "file": str(reader.path),
        "container": reader.container,
        "format_version": reader.meta.format_version,
        "platform": p.to_dict(),
        "capture": capture,
        "events": report.rows,
        "ts_first": report.ts_min,
        "ts_last": report.ts_max,
        "ts_unit": ts_unit,
        "duration_s": None if span is None or ts_unit != "stc" else span / p.stc_hz,
        "per_kind": {KIND_NAMES[k]: int(n) for k, n in enumerate(report.per_kind) if n},
        "per_cpu": {str(c): int(n) for c, n in enumerate(report.per_cpu)},
        "loss": {
            "gaps": len(report.losses),
            "lost_records": report.lost_records,
            "unrecorded_gaps": sum(not loss.recorded for loss in report.losses),
            "details": [vars(loss) for loss in report.losses[:100]],
        },
        "validation_errors": report.error_count,
        "warnings": reader.warnings,
    }


def read_report(path: Path, salvage: bool) -> tuple[TraceReader, Report]:
    reader = open_trace(path, salvage=salvage)
    with progress(f"reading {path.name}", reader.num_rows) as advance:

        def batches():  # type: ignore[no-untyped-def]
            for b in reader.batches():
                advance(b.n)
                yield b

        report = check(batches(), reader.platform, str(path))
    return reader, report


@click.command()
@click.argument("trace", type=click.Path(path_type=Path))
@json_option
@salvage_option
def info(trace: Path, as_json: bool, salvage: bool) -> None:
    """Summarise TRACE: platform, duration, events per kind and per CPU, recorder losses.

    \b
    Example:
      novatrace info sample_traces/x86-tiny.parquet
      novatrace info --json capture.arrows | jq .loss
    """
    reader, report = read_report(trace, salvage)
    s = summarize(reader, report)
    for w in reader.warnings:
        warn(w)
    if as_json:
        emit_json(s)
        return
    p = reader.platform
    k = p.kernel
    stdout.print(f"[bold]{trace}[/bold]  ({reader.container}, format v{reader.meta.format_version})")
    stdout.print(
        f"platform  {p.arch}, {p.cpus} CPUs, STC {p.stc_hz / 1e6:g} MHz, {k.name} {k.version or '?'} ({k.api})"
        + (f", board {p.board}" if p.board else "")
    )
    if p.x86 is not None:
        x = p.x86
        stdout.print(
            f"interrupts  {len(x.ioapics)} IOAPIC(s) with {x.pins} pins, {x.msi_count} MSIs, "
            f"{x.vectors_per_cpu} vectors/CPU, remapping {'on' if x.remapping else 'off'}"
        )
    if p.arm is not None:
        a = p.arm
        stdout.print(
            f"interrupts  GICv{a.gic_version}: {a.spi_count} SPIs, {a.ppi_count} PPIs, {a.lpi_count} LPIs, "
            f"{len(a.its)} ITS"
        )
    stdout.print(f"devices  {len(p.devices)}")
    capture = s["capture"]
    if capture:
        stdout.print(f"capture  {capture.get('source', '?')}" + (f" ({capture['tool']})" if "tool" in capture else ""))
        for note in capture.get("notes", []):
            stdout.print(f"  note: {note}")
    span = None if report.ts_min is None else report.ts_max - report.ts_min  # type: ignore[operator]
    if s["ts_unit"] == "stc":
        stdout.print(f"events  {report.rows:,}   duration  {seconds(span, p.stc_hz)}")
    else:
        stdout.print(f"events  {report.rows:,}   ts counts {s['ts_unit']}s, not time (span {span})")

    kinds = Table(title="events per kind", show_edge=False)
    kinds.add_column("kind")
    kinds.add_column("events", justify="right")
    for name, n in s["per_kind"].items():
        kinds.add_row(name, f"{n:,}")
    stdout.print(kinds)
    cpus = Table(title="events per CPU", show_edge=False)
    cpus.add_column("cpu", justify="right")
    cpus.add_column("events", justify="right")
    cpus.add_column("first seq", justify="right")
    for c, n in s["per_cpu"].items():
        cpus.add_row(c, f"{n:,}", str(report.first_seq.get(int(c), "-")))
    stdout.print(cpus)
    loss = s["loss"]
    if loss["gaps"]:
        stdout.print(
            f"[yellow]recorder loss[/yellow]  {loss['lost_records']:,} records in {loss['gaps']} gap(s), "
            f"{loss['unrecorded_gaps']} without a RECORDER_LOSS record"
        )
        for d in loss["details"][:10]:
            stdout.print(
                f"  cpu {d['cpu']}: seq {d['first_seq']}..{d['first_seq'] + d['count'] - 1} ({d['count']} records) "
                f"between ts {d['ts_from']} and {d['ts_to']}" + ("" if d["recorded"] else "  [unrecorded]")
            )
    else:
        stdout.print("recorder loss  none")
    if report.error_count:
        stdout.print(f"[red]{report.error_count} format error(s)[/red]: run 'novatrace validate {trace}'")
