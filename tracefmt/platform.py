"""The platform description: what machine and kernel a trace came from, as a typed, validated object.

It travels inside every trace file as versioned JSON (FORMAT.md, "Platform description"). Replay picks its
kernel rules from ``kernel.api``; analyzers use the interrupt controllers and devices to name sources.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from tracefmt.errors import PlatformError
from tracefmt.nova import API_GENERATIONS, ARM_BASE_LPI, ARM_NUM_SPI, X86_NUM_GSI

PLATFORM_VERSION = 1
ARCHES = ("x86_64", "aarch64")
MAX_CPUS = 4096


@dataclass(frozen=True)
class Kernel:
    name: str = "NOVA"
    version: str = ""  # e.g. "release-24.08.0" or a git commit
    api: str = "nova-2024"  # kernel API generation (tracefmt.nova.API_GENERATIONS)


@dataclass(frozen=True)
class IoApic:
    id: int
    gsi_base: int
    pins: int
    source_id: int  # PCI bus/device/function of the IOAPIC (DMAR scope), used for interrupt remapping


@dataclass(frozen=True)
class X86Interrupts:
    ioapics: tuple[IoApic, ...] = ()
    msi_count: int = 0  # INTMSI (nova-2024: 217 - pins)
    vectors_per_cpu: int = X86_NUM_GSI  # device vectors per CPU (nova-2024: 217 global GSIs)
    remapping: bool = False  # IOMMU interrupt remapping active
    iommus: tuple[int, ...] = ()  # IOMMU register base addresses

    @property
    def pins(self) -> int:
        """INTPIN: the highest GSI any IOAPIC covers (domain.md 4.2)."""
        return max((a.gsi_base + a.pins for a in self.ioapics), default=0)


@dataclass(frozen=True)
class Its:
    base: int
    device_id_bits: int = 16
    event_id_bits: int = 16


@dataclass(frozen=True)
class ArmInterrupts:
    gic_version: int = 3
    spi_count: int = 0  # INTPIN: SPIs 0..spi_count-1 (INTIDs 32..)
    ppi_count: int = 16
    lpi_count: int = 0  # LPIs INTID 8192 .. 8192+lpi_count-1 (0 = no LPIs)
    its: tuple[Its, ...] = ()
    smmus: tuple[int, ...] = ()  # SMMU register base addresses


@dataclass(frozen=True)
class Device:
    name: str
    source_id: int  # x86: PCI segment:bus:dev.fn as (seg << 16 | bus << 8 | devfn); Arm: ITS DeviceID
    irq_kind: str = "msi"  # "pin", "msi" (x86) / "spi", "lpi" (Arm)
    irqs: tuple[int, ...] = ()  # GSIs (x86 pins), SPI numbers, or per-device vector/event indices
    stream_id: int = -1  # Arm SMMU StreamID (-1 = none)


@dataclass(frozen=True)
class Platform:
    arch: str
    cpus: int
    stc_hz: int
    kernel: Kernel = field(default_factory=Kernel)
    x86: X86Interrupts | None = None
    arm: ArmInterrupts | None = None
    devices: tuple[Device, ...] = ()
    board: str = ""

    @property
    def api(self) -> str:
        return self.kernel.api

    def with_api(self, api: str) -> Platform:
        """The same machine under another kernel API generation (``replay --model``)."""
        from dataclasses import replace

        return replace(self, kernel=replace(self.kernel, api=api)).validated()

    # --- serialisation ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["platform_version"] = PLATFORM_VERSION
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "platform") -> Platform:
        try:
            d = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise PlatformError(f"{where}: platform description is not valid JSON ({e})") from None
        return cls.from_dict(d, where)

    @classmethod
    def from_dict(cls, d: Any, where: str = "platform") -> Platform:
        if not isinstance(d, dict):
            raise PlatformError(f"{where}: platform description must be a JSON object")
        version = d.get("platform_version", PLATFORM_VERSION)
        if version != PLATFORM_VERSION:
            raise PlatformError(
                f"{where}: platform description version {version} is not supported (this tool reads {PLATFORM_VERSION})"
            )
        try:
            x86 = d.get("x86")
            arm = d.get("arm")
            p = cls(
                arch=d["arch"],
                cpus=int(d["cpus"]),
                stc_hz=int(d["stc_hz"]),
                kernel=Kernel(**d.get("kernel", {})),
                x86=None
                if x86 is None
                else X86Interrupts(
                    ioapics=tuple(IoApic(**a) for a in x86.get("ioapics", ())),
                    msi_count=int(x86.get("msi_count", 0)),
                    vectors_per_cpu=int(x86.get("vectors_per_cpu", X86_NUM_GSI)),
                    remapping=bool(x86.get("remapping", False)),
                    iommus=tuple(int(b) for b in x86.get("iommus", ())),
                ),
                arm=None
                if arm is None
                else ArmInterrupts(
                    gic_version=int(arm.get("gic_version", 3)),
                    spi_count=int(arm.get("spi_count", 0)),
                    ppi_count=int(arm.get("ppi_count", 16)),
                    lpi_count=int(arm.get("lpi_count", 0)),
                    its=tuple(Its(**i) for i in arm.get("its", ())),
                    smmus=tuple(int(b) for b in arm.get("smmus", ())),
                ),
                devices=tuple(Device(**{**dev, "irqs": tuple(dev.get("irqs", ()))}) for dev in d.get("devices", ())),
                board=str(d.get("board", "")),
            )
        except KeyError as e:
            raise PlatformError(f"{where}: platform description lacks {e.args[0]!r}") from None
        except (TypeError, ValueError) as e:
            raise PlatformError(f"{where}: platform description malformed ({e})") from None
        return p.validated(where)

    # --- validation ---------------------------------------------------------------------------------------

    def validated(self, where: str = "platform") -> Platform:
        """Return self if consistent, else raise PlatformError naming the first problem."""

        def bad(msg: str) -> PlatformError:
            return PlatformError(f"{where}: {msg}")

        if self.arch not in ARCHES:
            raise bad(f"arch {self.arch!r} unknown (expected one of {', '.join(ARCHES)})")
        if not 1 <= self.cpus <= MAX_CPUS:
            raise bad(f"cpus = {self.cpus} out of range 1..{MAX_CPUS}")
        if self.stc_hz <= 0:
            raise bad(f"stc_hz = {self.stc_hz} must be positive")
        if self.kernel.api not in API_GENERATIONS:
            raise bad(f"kernel.api {self.kernel.api!r} unknown (expected one of {', '.join(API_GENERATIONS)})")
        if self.arch == "x86_64":
            if self.x86 is None or self.arm is not None:
                raise bad("an x86_64 platform needs an 'x86' interrupt section and no 'arm' section")
            self._validate_x86(bad)
        else:
            if self.arm is None or self.x86 is not None:
                raise bad("an aarch64 platform needs an 'arm' interrupt section and no 'x86' section")
            self._validate_arm(bad)
        names = [d.name for d in self.devices]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise bad(f"device names not unique: {', '.join(sorted(dup))}")
        for dev in self.devices:
            if dev.source_id < 0 or dev.source_id >= 1 << 32:
                raise bad(f"device {dev.name}: source_id {dev.source_id:#x} out of range")
        return self

    def _validate_x86(self, bad: Any) -> None:
        x = self.x86
        assert x is not None
        if self.kernel.api == "nova-2024" and x.pins + x.msi_count > X86_NUM_GSI:
            raise bad(f"x86 pins ({x.pins}) + msi_count ({x.msi_count}) exceed the {X86_NUM_GSI} nova-2024 GSIs")
        if not 1 <= x.vectors_per_cpu <= 256:
            raise bad(f"x86 vectors_per_cpu = {x.vectors_per_cpu} out of range 1..256")
        covered: set[int] = set()
        for a in x.ioapics:
            gsis = set(range(a.gsi_base, a.gsi_base + a.pins))
            if a.pins <= 0 or a.gsi_base < 0 or gsis & covered:
                raise bad(f"IOAPIC {a.id}: GSI range {a.gsi_base}+{a.pins} empty, negative or overlapping")
            covered |= gsis
        for dev in self.devices:
            if dev.irq_kind not in ("pin", "msi"):
                raise bad(f"device {dev.name}: irq_kind {dev.irq_kind!r} is not an x86 kind (pin, msi)")
            if dev.irq_kind == "pin" and any(g not in covered for g in dev.irqs):
                raise bad(f"device {dev.name}: pin GSI not covered by any IOAPIC")

    def _validate_arm(self, bad: Any) -> None:
        a = self.arm
        assert a is not None
        if a.gic_version not in (2, 3, 4):
            raise bad(f"GIC version {a.gic_version} unknown")
        if not 0 <= a.spi_count <= ARM_NUM_SPI:
            raise bad(f"spi_count = {a.spi_count} out of range 0..{ARM_NUM_SPI}")
        if a.lpi_count and not a.its:
            raise bad("LPIs need at least one ITS")
        if a.lpi_count < 0 or ARM_BASE_LPI + a.lpi_count > 1 << 32:
            raise bad(f"lpi_count = {a.lpi_count} out of range")
        for dev in self.devices:
            if dev.irq_kind not in ("spi", "lpi", "ppi"):
                raise bad(f"device {dev.name}: irq_kind {dev.irq_kind!r} is not an Arm kind (spi, ppi, lpi)")
            if dev.irq_kind == "spi" and any(not 0 <= s < a.spi_count for s in dev.irqs):
                raise bad(f"device {dev.name}: SPI outside 0..{a.spi_count - 1}")


def example_x86(cpus: int = 4, api: str = "nova-2024", remapping: bool = True) -> Platform:
    """A small, plausible x86 machine: one 24-pin IOAPIC, MSIs for the rest (used by samples and tests)."""
    return Platform(
        arch="x86_64",
        cpus=cpus,
        stc_hz=2_000_000_000,
        kernel=Kernel(version="release-24.08.0" if api == "nova-2024" else "2026-devctx", api=api),
        x86=X86Interrupts(
            ioapics=(IoApic(id=0, gsi_base=0, pins=24, source_id=0x00F8),),
            msi_count=X86_NUM_GSI - 24,
            vectors_per_cpu=X86_NUM_GSI,
            remapping=remapping,
            iommus=(0xFED90000,),
        ),
        devices=(
            Device(name="ahci0", source_id=0x00FA, irq_kind="pin", irqs=(16,)),
            Device(name="nvme0", source_id=0x0100, irq_kind="msi", irqs=(24, 25)),
        ),
        board="q35",
    ).validated()


def example_arm(cpus: int = 2, api: str = "nova-2024") -> Platform:
    """A small GICv3 machine modelled on QEMU virt (../shared/nova/real-logs): 224 SPIs, one ITS."""
    return Platform(
        arch="aarch64",
        cpus=cpus,
        stc_hz=62_500_000,
        kernel=Kernel(version="release-24.08.0" if api == "nova-2024" else "2026-devctx", api=api),
        arm=ArmInterrupts(gic_version=3, spi_count=224, lpi_count=8192, its=(Its(base=0x08080000),)),
        devices=(
            Device(name="rtc0", source_id=0, irq_kind="spi", irqs=(2,)),
            Device(name="nvme0", source_id=0x10, irq_kind="lpi", irqs=(0, 1), stream_id=0x10),
        ),
        board="qemu-virt",
    ).validated()
