"""``novatrace import rings|console``: turn what a NOVA machine recorded into a trace file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich import box
from rich.table import Table

from cli.output import emit_json, json_option, progress, stdout, warn
from tracefmt.errors import PlatformError, TraceError

EXIT_FINDINGS = 1


def _load_platform(path: Path | None) -> Any:
    if path is None:
        return None
    from tracefmt.platform import Platform

    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PlatformError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PlatformError(f"{path}: cannot read platform description ({e})") from None
    return Platform.from_json(text, str(path))


def _check_output(out: Path, force: bool) -> None:
    from tracefmt.io import container_for_name

    container_for_name(out)  # a usable suffix
    if out.exists() and not force:
        raise TraceError(f"{out}: already exists (use --force to overwrite)")


@click.group("import")
def import_group() -> None:
    """Import a capture: recorder ring dumps (rings) or NOVA's console trace lines (console)."""


@import_group.command("rings")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--platform",
    "platform_file",
    required=True,
    type=click.Path(path_type=Path),
    help="Platform description (JSON, as tracefmt.platform.Platform.to_json writes it).",
)
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="Trace to write (.parquet/.arrows)."
)
@click.option("--salvage", is_flag=True, help="Sort slots by sequence number and drop records whose time goes back.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@json_option
@click.pass_context
def rings(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    platform_file: Path,
    output: Path,
    salvage: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Decode per-CPU recorder ring dumps (DIR or FILES) into one trace (FORMAT.md section 8).

    Every file holding rings is read (several rings may follow each other in one file); a directory
    contributes every file in it that starts with a ring. Records the ring lost are accounted per CPU:
    the recorder's own RECORDER_LOSS records, one appended for records lost at the end (drops, a record
    torn by the crash), and records overwritten before the dump (reported). Exit 1 if the dump is damaged
    (gaps no RECORDER_LOSS explains, unknown kinds, slots out of order), 0 otherwise.

    \b
    Example:
      novatrace import rings dump/ --platform platform.json -o trace.parquet
      novatrace import rings cpu0.ring cpu1.ring --platform platform.json -o trace.arrows --json
    """
    from tracefmt.capture.rings import import_rings

    platform = _load_platform(platform_file)
    _check_output(output, force)
    with progress("decoding rings", None) as advance:
        result = import_rings(list(inputs), platform, output, salvage=salvage, progress=advance)
    for w in result.warnings:
        warn(w)
    damaged = [s for s in result.rings if s.unrecorded_gaps or s.bad_kind or s.sorted_by_seq or s.ts_dropped]
    for s in result.rings:
        for note in s.notes:
            warn(f"cpu {s.cpu}: {note}")
    if as_json:
        emit_json({"output": str(output), **result.to_dict()})
    else:
        table = Table(title=f"{output}: {result.events:,} events", show_edge=False, pad_edge=False, box=box.SIMPLE)
        for col in ("cpu", "mode", "slots", "wraps", "records", "seq", "overwr.", "dropped", "at end", "torn", "gaps"):
            table.add_column(col, justify="left" if col == "mode" else "right", no_wrap=True, min_width=len(col))
        for s in result.rings:
            seq = "-" if s.first_seq is None else f"{s.first_seq}..{s.last_seq}"
            table.add_row(
                str(s.cpu),
                s.mode,
                f"{s.slots_in_dump}/{s.capacity}",
                str(s.wrap_count),
                str(s.records),
                seq,
                str(s.before_window),
                str(s.loss_lost),
                str(s.trailing_lost),
                str(s.torn),
                f"{s.unrecorded_records} in {s.unrecorded_gaps}" if s.unrecorded_gaps else "0",
            )
        stdout.print(table)
        stdout.print(
            "overwr.: records before the oldest one in the ring (overwritten or consumed); dropped: lost records "
            "the recorder's RECORDER_LOSS records cover; at end: lost after the last record, covered by the "
            "RECORDER_LOSS the importer appends; gaps: lost records nothing explains (damaged slots)"
        )
    if damaged:
        ctx.exit(EXIT_FINDINGS)


@import_group.command("console")
@click.argument("log", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="Trace to write (.parquet/.arrows)."
)
@click.option(
    "--platform", "platform_file", type=click.Path(path_type=Path), help="Platform JSON (default: from boot lines)."
)
@click.option("--api", type=click.Choice(["nova-2024", "nova-2026"]), help="Kernel API generation (default: detected).")
@click.option(
    "--format",
    "kind",
    type=click.Choice(["auto", "serial", "mbuf"]),
    default="auto",
    show_default=True,
    help="serial capture (text) or raw memory-buffer console dump (RdIdx/WrIdx + ring).",
)
@click.option("--mbuf-all", is_flag=True, help="Memory buffer: decode everything in it, not only the unread part.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@json_option
@click.pass_context
def console(
    ctx: click.Context,
    log: Path,
    output: Path,
    platform_file: Path | None,
    api: str | None,
    kind: str,
    mbuf_all: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Import NOVA's console trace lines from LOG into a PARTIAL trace.

    Reads TRACE_SYSCALL lines (hypercalls, as HC_ENTRY with rebuilt registers), TRACE_CREATE lines
    (OBJ_CREATED), 'INTR: Routing' lines (IRQ_MASK/UNMASK) and 'Killed EC' lines (EC_KILL); the boot lines
    describe the platform. NOVA prints no timestamps and no statuses: ts is the line number, and there are
    no HC_EXIT events - the trace's capture notes (novatrace info) say so. Unparseable trace lines are
    reported with their line numbers (exit 1); other console output is skipped.

    \b
    Example:
      novatrace import console serial.log -o boot.parquet
      novatrace import console mbuf.bin --format mbuf --platform platform.json -o t.parquet --json
    """
    from tracefmt.capture.console import read_console
    from tracefmt.io import container_for_name, write_trace
    from tracefmt.meta import TraceMeta

    platform = _load_platform(platform_file)
    _check_output(output, force)
    imp = read_console(log, api=api, platform=platform, kind=kind, whole=mbuf_all)
    tmp = output.with_name(output.name + ".partial")
    try:
        meta = TraceMeta(platform=imp.platform, provenance=imp.provenance(log))
        write_trace(tmp, meta, imp.columns, container=container_for_name(output))
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    for w in imp.warnings:
        warn(w)
    if imp.unparseable > len(imp.warnings):
        warn(f"{log}: ... {imp.unparseable - len(imp.warnings)} more unparseable lines")
    if as_json:
        emit_json({"output": str(output), **imp.to_dict()})
    else:
        n = sum(imp.events.values())
        stdout.print(
            f"wrote {output}: {n:,} events from {imp.lines:,} lines of {log} ({imp.source}); "
            f"{imp.skipped:,} other lines skipped, {imp.unparseable:,} unparseable"
        )
        p = imp.platform
        stdout.print(f"platform  {p.arch}, {p.cpus} CPUs, STC {p.stc_hz:,} Hz, {p.kernel.api}")
        for k, v in sorted(imp.events.items()):
            stdout.print(f"  {k:<14} {v:>8,}")
        stdout.print("[yellow]partial trace[/yellow]:")
        for note in imp.notes:
            stdout.print(f"  note: {note}")
    if imp.unparseable:
        ctx.exit(EXIT_FINDINGS)
