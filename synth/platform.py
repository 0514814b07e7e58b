"""The synthetic machine: a platform description sized by the configuration, and its interrupt lines.

Every device gets a PCI-like source id; device 0, 8, 16 ... use a wired line (x86 IOAPIC pin, Arm SPI), the
others message interrupts (x86 MSI; Arm SPIs under nova-2024, LPIs through the ITS under nova-2026). How many
of them the kernel can route is limited by the generation: nova-2024 has 217 global GSIs on x86 and at most
988 SPIs on Arm; nova-2026 has 217 vectors per CPU (x86) and LPIs (Arm).
"""

from __future__ import annotations

from dataclasses import dataclass

from synth.config import SynthConfig
from tracefmt.nova import API_2024, ARM_NUM_SPI, X86_NUM_GSI
from tracefmt.platform import ArmInterrupts, Device, IoApic, Its, Kernel, Platform, X86Interrupts

X86_PINS = 24
X86_IOMMU = 0xFED90000
ARM_ITS = 0x08080000
ARM_SMMU = 0x09050000
MAX_LINES = 4096  # interrupt lines given a driver; the rest of the devices' interrupts stay unassigned


@dataclass(frozen=True)
class Line:
    """One device interrupt the workload may use (not necessarily routed)."""

    device: int
    index: int  # interrupt index within the device (MSI-X entry / ITS EventID)
    irq: int  # interrupt number as FORMAT.md 4.3 numbers it
    wired: bool  # IOAPIC pin (level) / SPI; else MSI / LPI
    source: int  # x86 seg<<16|bus<<8|devfn, Arm DeviceID
    segment: int


def source_id(arch: str, d: int, segment: int = 0) -> int:
    if arch == "x86_64":
        return segment << 16 | (1 + d // 32) << 8 | (d % 32) << 3
    return 0x100 + d


def build(cfg: SynthConfig) -> tuple[Platform, list[Line]]:
    """The platform description and the device interrupt lines, in device order."""
    lines: list[Line] = []
    devices: list[Device] = []
    x86 = cfg.arch == "x86_64"
    next_pin = 16  # x86 PCI INTx pins 16..23
    next_gsi = X86_PINS  # nova-2024 x86 MSIs: GSIs 24..216; nova-2026: segment-local GSIs
    segment = 0
    next_spi = 0
    next_lpi = 8192
    for d in range(cfg.devices):
        wired = d % 8 == 0 and (not x86 or next_pin < X86_PINS)
        n = 1 if (wired and x86) else cfg.irqs_per_device
        irqs: list[int] = []
        kind = "pin" if x86 else "spi"
        src_seg = 0
        if x86 and wired:
            irqs = [next_pin]
            next_pin += 1
        elif x86 and cfg.api == API_2024:
            kind = "msi"
            while len(irqs) < n and next_gsi < X86_NUM_GSI:
                irqs.append(next_gsi)
                next_gsi += 1
        elif x86:
            kind = "msi"
            if next_gsi + n > X86_NUM_GSI:
                segment, next_gsi = segment + 1, X86_PINS
            src_seg = segment
            irqs = [segment << 16 | (next_gsi + i) for i in range(n)]
            next_gsi += n
        elif cfg.api == API_2024 or wired:
            while len(irqs) < n and next_spi < ARM_NUM_SPI:
                irqs.append(next_spi)
                next_spi += 1
        else:
            kind = "lpi"
            irqs = list(range(n))  # EventIDs
        src = source_id(cfg.arch, d, src_seg)
        devices.append(
            Device(name=f"dev{d}", source_id=src, irq_kind=kind, irqs=tuple(irqs), stream_id=-1 if x86 else src)
        )
        for i, irq in enumerate(irqs):
            if len(lines) >= MAX_LINES + 64:
                break  # beyond what the workload can use
            if kind == "lpi":
                irq, next_lpi = next_lpi, next_lpi + 1
            elif not x86 and cfg.api != API_2024:
                irq = 32 + irq  # nova-2026 Arm numbers SPIs by INTID
            lines.append(Line(d, i, irq, kind in ("pin", "spi"), src, src_seg))
    lpis = next_lpi - 8192
    kernel = Kernel(version="release-24.08.0" if cfg.api == API_2024 else "2026-devctx", api=cfg.api)
    if x86:
        platform = Platform(
            arch="x86_64",
            cpus=cfg.cpus,
            stc_hz=2_000_000_000,
            kernel=kernel,
            x86=X86Interrupts(
                ioapics=(IoApic(id=0, gsi_base=0, pins=X86_PINS, source_id=0x00F8),),
                msi_count=X86_NUM_GSI - X86_PINS,
                vectors_per_cpu=X86_NUM_GSI,
                remapping=True,
                iommus=(X86_IOMMU,),
            ),
            devices=tuple(devices),
            board="synth-x86",
        )
    else:
        platform = Platform(
            arch="aarch64",
            cpus=cfg.cpus,
            stc_hz=62_500_000,
            kernel=kernel,
            arm=ArmInterrupts(
                gic_version=3,
                spi_count=max(32, min(ARM_NUM_SPI, next_spi)),
                lpi_count=max(8192, lpis),
                its=(Its(base=ARM_ITS),),
                smmus=(ARM_SMMU,),
            ),
            devices=tuple(devices),
            board="synth-arm",
        )
    return platform.validated(), lines
