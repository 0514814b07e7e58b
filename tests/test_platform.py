"""The platform description: JSON round trip and one-line validation errors."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tracefmt.errors import PlatformError
from tracefmt.platform import Device, IoApic, Platform, X86Interrupts, example_arm, example_x86


@pytest.mark.parametrize("p", [example_x86(), example_x86(api="nova-2026", remapping=False), example_arm()])
def test_json_round_trip(p):
    text = p.to_json()
    assert json.loads(text)["platform_version"] == 1
    assert Platform.from_json(text) == p


def test_with_api_switches_generation():
    p = example_x86()
    q = p.with_api("nova-2026")
    assert q.api == "nova-2026" and q.cpus == p.cpus and p.api == "nova-2024"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"arch": "riscv"}, "arch 'riscv' unknown"),
        ({"cpus": 0}, "cpus = 0 out of range 1..4096"),
        ({"stc_hz": 0}, "stc_hz = 0 must be positive"),
        ({"kernel": {"api": "nova-1999"}}, "kernel.api 'nova-1999' unknown"),
        ({"x86": None}, "needs an 'x86' interrupt section"),
        ({"devices": [{"name": "a", "source_id": 1}, {"name": "a", "source_id": 2}]}, "device names not unique: a"),
    ],
)
def test_invalid_descriptions(change, message):
    d = example_x86().to_dict()
    d.update(change)
    with pytest.raises(PlatformError, match=message) as e:
        Platform.from_dict(d, "trace.parquet")
    assert str(e.value).startswith("trace.parquet: ") and "\n" not in str(e.value)


def test_x86_gsi_budget_and_overlaps():
    p = example_x86()
    too_many = replace(p, x86=replace(p.x86, msi_count=300))
    with pytest.raises(PlatformError, match="exceed the 217 nova-2024 GSIs"):
        too_many.validated()
    overlap = replace(p, x86=X86Interrupts(ioapics=(IoApic(0, 0, 24, 1), IoApic(1, 20, 24, 2))))
    with pytest.raises(PlatformError, match="overlapping"):
        overlap.validated()
    bad_pin = replace(p, devices=(Device("d", 1, "pin", (99,)),))
    with pytest.raises(PlatformError, match="pin GSI not covered"):
        bad_pin.validated()


def test_arm_rules():
    p = example_arm()
    with pytest.raises(PlatformError, match="LPIs need at least one ITS"):
        replace(p, arm=replace(p.arm, its=())).validated()
    with pytest.raises(PlatformError, match="SPI outside 0..223"):
        replace(p, devices=(Device("d", 0, "spi", (500,)),)).validated()
    with pytest.raises(PlatformError, match="not an Arm kind"):
        replace(p, devices=(Device("d", 0, "msi", (1,)),)).validated()


def test_not_json():
    with pytest.raises(PlatformError, match="x: platform description is not valid JSON"):
        Platform.from_json("{nope", "x")
