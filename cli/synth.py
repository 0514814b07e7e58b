"""``novatrace synth``: write a realistic synthetic NOVA trace with injected faults and their ground truth."""

from __future__ import annotations

from pathlib import Path

import click

from cli.main import UserError
from cli.output import emit_json, json_option, progress, stdout

RINGS_MAX_EVENTS = 5_000_000


def _count(text: str) -> int:
    """``1e6``, ``1_000_000`` or ``1000000`` -> int."""
    try:
        v = float(text.replace("_", ""))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number") from None
    if v != int(v):
        raise click.BadParameter(f"{text!r} is not a whole number")
    return int(v)


@click.command()
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="Trace to write.")
@click.option("--arch", type=click.Choice(["x86_64", "aarch64"]), default=None, help="Architecture [x86_64].")
@click.option("--api", type=click.Choice(["nova-2024", "nova-2026"]), default=None, help="Kernel API generation.")
@click.option("--events", default=None, help="Approximate number of events (1e3 .. 1e9) [10000].")
@click.option("--cpus", type=int, default=None, help="CPUs (1..256) [4].")
@click.option("--devices", type=int, default=None, help="Devices (1..4096) [16].")
@click.option("--irqs-per-device", type=int, default=None, help="Interrupts per device (1..64) [4].")
@click.option(
    "--scenario",
    default="healthy",
    show_default=True,
    help="healthy, lost-irq, misroute, latency, storm, truncated, loss, divergence, version-a, version-b.",
)
@click.option("--seed", type=int, default=None, help="Random seed: the same arguments and seed give identical files.")
@click.option("--config", "config", type=click.Path(path_type=Path), default=None, help="TOML scenario file.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "ipc", "rings"]),
    default="parquet",
    show_default=True,
    help="Parquet file, Arrow IPC stream (.arrows) or a directory of per-CPU recorder rings.",
)
@click.option("--batch-rows", type=int, default=None, help="Events generated per batch (bounds memory) [262144].")
@click.option("--force", is_flag=True, help="Overwrite the output if it exists.")
@json_option
def synth(
    out: Path,
    arch: str | None,
    api: str | None,
    events: str | None,
    cpus: int | None,
    devices: int | None,
    irqs_per_device: int | None,
    scenario: str,
    seed: int | None,
    config: Path | None,
    fmt: str,
    batch_rows: int | None,
    force: bool,
    as_json: bool,
) -> None:
    """Synthesize a NOVA trace: boot, drivers, IPC, interrupts on many CPUs, with injected faults.

    Ground truth (one row per injected fault) goes to OUTPUT's ``.labels.parquet`` beside it.

    \b
    Example:
      novatrace synth -o x86.parquet --arch x86_64 --api nova-2024 --events 1e6 --cpus 8 --scenario lost-irq
    """
    from synth.config import load_config
    from synth.run import synthesize

    try:
        cfg = load_config(
            scenario,
            config,
            arch=arch,
            api=api,
            events=None if events is None else _count(events),
            cpus=cpus,
            devices=devices,
            irqs_per_device=irqs_per_device,
            seed=seed,
            batch_rows=batch_rows,
        )
    except (ValueError, click.BadParameter) as e:
        raise UserError(str(e).splitlines()[0]) from None
    if cfg.truncate and fmt != "ipc":
        raise UserError(f"scenario {scenario!r} cuts an IPC stream: use --format ipc (and an .arrows output)")
    if fmt == "rings" and cfg.events > RINGS_MAX_EVENTS:
        raise UserError(f"--format rings keeps the trace in memory: at most {RINGS_MAX_EVENTS:.0e} events")
    if out.exists() and not force:
        raise UserError(f"{out}: already exists (use --force to overwrite)")
    if fmt == "parquet" and out.suffix.lower() not in (".parquet", ".pq"):
        raise UserError(f"{out}: a Parquet trace needs a .parquet name")
    if fmt == "ipc" and out.suffix.lower() not in (".arrows", ".arrow", ".ipc"):
        raise UserError(f"{out}: an IPC stream needs an .arrows name")
    with progress(f"synthesizing {out.name}", cfg.events if cfg.events >= 1_000_000 else None) as advance:
        summary = synthesize(cfg, out, fmt, advance)
    if as_json:
        emit_json(summary)
        return
    kinds = ", ".join(f"{k} {v}" for k, v in summary["fault_kinds"].items()) or "none"
    stdout.print(
        f"wrote {out}: {summary['events']:,} events ({summary['arch']}, {summary['api']}, {fmt}, "
        f"{summary['bytes']:,} bytes) in {summary['seconds']:.1f} s; {summary['faults']} faults ({kinds}) "
        f"-> {summary['labels']} ({summary['label_bytes']:,} bytes)"
    )
