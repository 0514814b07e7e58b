"""Injected faults: codes the kernel writes, and the ground-truth labels table saved beside a trace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# code -> (category, mechanism). Codes are what synth.kernel writes into its label buffer.
FAULTS: dict[int, tuple[str, str]] = {
    1: ("lost_irq", "never_arrived"),  # the driver expects an interrupt (MARKER EXPECT_IRQ); it never comes
    2: ("lost_irq", "edge_while_masked"),  # expected edge raised while the line was masked/active: dropped
    3: ("lost_irq", "level_never_unmasked"),  # the driver died before its acknowledge: the line stays masked
    4: ("lost_irq", "wrong_cpu"),  # nova-2026 x86: delivered to a CPU where no semaphore is attached
    5: ("misroute", "wrong_cpu"),  # delivered to a CPU other than the routed one (woken remotely, late)
    6: ("misroute", "unauthorised_source"),  # remapping / ITS refused a message from an unknown source id
    7: ("misroute", "unassigned"),  # an interrupt nobody routed arrives (nova-2024: its semaphore counts up)
    8: ("latency", "preempted"),  # handling delayed by a higher-priority SC running long
    9: ("latency", "budget_exhausted"),  # the driver's SC ran out of budget while handling
    10: ("latency", "ipi_storm"),  # a burst of remote-kernel-entry IPIs
    11: ("recorder_loss", "dropped_records"),  # a run of records dropped (sequence gap + RECORDER_LOSS)
    12: ("divergence", "wrong_status"),  # HC_EXIT with a status NOVA would not return
    13: ("divergence", "missing_wake"),  # SM_UP woke an EC but its EC_WAKE is missing
    14: ("divergence", "wrong_wake"),  # SM_UP / EC_WAKE name an EC that was not the semaphore's waiter
    15: ("misroute", "stale_route"),  # after an affinity change the device used its old route (nova-2026)
}
CODE: dict[str, int] = {f"{cat}/{mech}": code for code, (cat, mech) in FAULTS.items()}
PARAM_NAMES: dict[int, tuple[str, str]] = {
    1: ("deadline", ""),
    2: ("masked_since_seq", ""),
    3: ("", ""),
    4: ("routed_cpu", "vector"),
    5: ("routed_cpu", "delivered"),
    6: ("device_source", "event_id"),
    7: ("vector", ""),
    8: ("delay_ticks", "blocking_ec"),
    9: ("sc", "ran_ticks"),
    10: ("ipis", ""),
    11: ("lost", "first_seq"),
    12: ("expected_status", "recorded_status"),
    13: ("woken_ec", "sm_up_seq"),
    14: ("true_waiter", "woken_ec"),
    15: ("routed_cpu", "delivered"),
}

LABEL_SCHEMA = pa.schema(
    [
        pa.field("fault", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("ts", pa.int64(), nullable=False),
        pa.field("cpu", pa.int16(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("event", pa.int64(), nullable=False),
        pa.field("kind", pa.uint8(), nullable=False),
        pa.field("subject", pa.int64(), nullable=False),
        pa.field("params", pa.string(), nullable=False),
    ]
)


def labels_path(trace: Path) -> Path:
    """``x.parquet`` -> ``x.labels.parquet`` (also for .arrows and ring directories)."""
    name = trace.name
    for suffix in (".parquet", ".arrows"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return trace.with_name(name + ".labels.parquet")


def label_table(rows: dict[str, np.ndarray]) -> pa.Table:
    """The labels table from the located label columns (code, ts, cpu, seq, event, kind, subject, p0, p1)."""
    faults, cats, params = [], [], []
    for code, p0, p1 in zip(rows["code"].tolist(), rows["p0"].tolist(), rows["p1"].tolist(), strict=True):
        cat, mech = FAULTS[code]
        faults.append(f"{cat}/{mech}")
        cats.append(cat)
        names = PARAM_NAMES[code]
        params.append(json.dumps({k: v for k, v in zip(names, (p0, p1), strict=True) if k}, sort_keys=True))
    return pa.table(
        {
            "fault": pa.array(faults, pa.string()),
            "category": pa.array(cats, pa.string()),
            "ts": pa.array(rows["ts"], pa.int64()),
            "cpu": pa.array(rows["cpu"].astype(np.int16), pa.int16()),
            "seq": pa.array(rows["seq"], pa.int64()),
            "event": pa.array(rows["event"], pa.int64()),
            "kind": pa.array(rows["kind"].astype(np.uint8), pa.uint8()),
            "subject": pa.array(rows["subject"], pa.int64()),
            "params": pa.array(params, pa.string()),
        },
        schema=LABEL_SCHEMA,
    )


def write_labels(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path, compression="zstd")
