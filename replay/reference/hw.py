"""Platform facts the kernel rules need (MODEL.md 6.2): selector bounds, IOMMU/SMMU, interrupt ranges."""

from __future__ import annotations

from tracefmt.nova import ARM_BASE_LPI, ARM_BASE_SPI
from tracefmt.platform import Platform

# page-table geometry of release-24.08 (inc/*/ptab_*.hpp): selectors (pages) of each memory space
MEM_SELECTORS = {
    "x86_64": {"HST": 1 << 35, "GST": 1 << 36, "DMA": 1 << 45},
    "aarch64": {"HST": 1 << 28, "GST": 1 << 28, "DMA": 1 << 36},
}
PIO_SELECTORS = 1 << 16
MSR_SELS = 1 << 13  # inc/x86_64/bitmap_msr.hpp: 0..sels-1 and 0xc0000000..+sels-1
MSR_HIGH = 0xC0000000
IRT_ENTRIES = 256  # nova-2026 remapped-MSI index limit (guess: the B24 IRT size, MODEL.md 13)
ITS_TRANSLATER = 0x10040  # GITS_TRANSLATER offset: the MSI address of an LPI


def mem_selectors(p: Platform, space: str) -> int:
    return MEM_SELECTORS[p.arch][space]


def msr_valid(s: int) -> bool:
    return s < MSR_SELS or MSR_HIGH <= s < MSR_HIGH + MSR_SELS


def has_iommu(p: Platform) -> bool:
    """HIP feature SMMU: x86 IOMMUs or Arm SMMUs listed in the platform."""
    return bool(p.x86.iommus) if p.x86 is not None else bool(p.arm.smmus)


def smmu_at(p: Platform, addr: int) -> bool:
    bases = p.x86.iommus if p.x86 is not None else p.arm.smmus
    return any((b & ~0xFFF) == (addr & ~0xFFF) for b in bases)


def remapping(p: Platform) -> bool:
    return p.x86 is not None and p.x86.remapping


def x86_is_pin(p: Platform, gsi: int) -> bool:
    """A GSI is an IOAPIC pin if an IOAPIC covers it (domain.md 4.2); otherwise it is an MSI."""
    return p.x86 is not None and any(a.gsi_base <= gsi < a.gsi_base + a.pins for a in p.x86.ioapics)


def x86_gsis(p: Platform) -> int:
    return p.x86.pins + p.x86.msi_count if p.x86 is not None else 0


def arm_spi_valid(p: Platform, intid: int) -> bool:
    return p.arm is not None and ARM_BASE_SPI <= intid < ARM_BASE_SPI + p.arm.spi_count


def arm_lpi_valid(p: Platform, intid: int) -> bool:
    return p.arm is not None and ARM_BASE_LPI <= intid < ARM_BASE_LPI + p.arm.lpi_count


def its_at(p: Platform, addr: int):
    if p.arm is None:
        return None
    return next((i for i in p.arm.its if (i.base & ~0xFFF) == (addr & ~0xFFF)), None)
