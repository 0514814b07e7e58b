"""The machine a console log came from, pieced together from NOVA's boot lines (domain.md 9.4, 9.5).

The banner names the architecture and build, ``INFO: CPU#`` / ``INT#`` / ``FREQ`` the CPU count, the
interrupts (pins + MSIs) and the STC frequency, ``APIC: I/O`` lines the x86 IOAPICs, ``GICD`` the Arm GIC.
What a log does not say (devices, IOMMU interrupt remapping, ITS units) stays at its default, and every
inferred or defaulted value is named in the notes. A ``--platform`` file given by the user wins.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from tracefmt.errors import TraceError
from tracefmt.nova import API_2024, ARM_BASE_RSV, ARM_BASE_SPI, X86_NUM_GSI
from tracefmt.platform import ArmInterrupts, IoApic, Kernel, Platform, X86Interrupts

BANNER = re.compile(r"NOVA Microhypervisor #(\S+) \((x86_64|aarch64)\)")
INFO_CPU = re.compile(r"^INFO: CPU#:\s*(\d+)$")
INFO_INT = re.compile(r"^INFO: INT#:\s*(\d+) \+ (\d+)$")
INFO_FREQ = re.compile(r"^INFO: FREQ: (\d+) Hz$")
GICD = re.compile(r"^GICD: 0x[0-9a-f]+ v(\d+) .*\bINT:(\d+)\b")
IOAPIC = re.compile(
    r"^APIC: I/O:(0x[0-9a-f]+) VER:0x[0-9a-f]+ GSI:(0x[0-9a-f]+)-(0x[0-9a-f]+) "
    r"\(([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])\)$"
)
LAPIC = re.compile(r"^APIC: LOC:")
TIMER = re.compile(r"^(?:TIMR: .* |FREQ: )(\d+) Hz")


@dataclass
class PlatformFacts:
    arch: str = ""
    version: str = ""
    cpus: int = 0
    int_pins: int | None = None
    int_msis: int | None = None
    freq: int = 0  # INFO: FREQ (the STC)
    timer_hz: int = 0  # TIMR (Arm) / FREQ (x86 TSC) lines, if INFO: FREQ is missing
    gic_version: int = 0
    gic_intids: int = 0
    ioapics: list[IoApic] = field(default_factory=list)
    lapics: int = 0
    routed_gsis: set[int] = field(default_factory=set)

    def banner(self, text: str) -> None:
        m = BANNER.search(text)
        if m:
            self.version, self.arch = m.group(1), m.group(2)

    def boot_line(self, msg: str) -> bool:
        """Record what a boot line says about the machine; True if it was one."""
        if m := INFO_CPU.match(msg):
            self.cpus = int(m.group(1))
        elif m := INFO_INT.match(msg):
            self.int_pins, self.int_msis = int(m.group(1)), int(m.group(2))
        elif m := INFO_FREQ.match(msg):
            self.freq = int(m.group(1))
        elif m := GICD.match(msg):
            self.gic_version, self.gic_intids = int(m.group(1)), int(m.group(2))
            self.arch = self.arch or "aarch64"
        elif m := IOAPIC.match(msg):
            ident, first, last = (int(m.group(i), 16) for i in (1, 2, 3))
            seg, bus, dev, fn = (int(m.group(i), 16) for i in (4, 5, 6, 7))
            self.ioapics.append(IoApic(ident, first, last - first + 1, seg << 16 | bus << 8 | dev << 3 | fn))
            self.arch = self.arch or "x86_64"
        elif LAPIC.match(msg):
            self.lapics += 1
            self.arch = self.arch or "x86_64"
        elif m := TIMER.match(msg):
            self.timer_hz = self.timer_hz or int(m.group(1))
        else:
            return False
        return True

    def interrupts(self, plat: Platform) -> int:
        """How many interrupt semaphores NOVA creates at boot (nova-2024)."""
        if plat.x86 is not None:
            return X86_NUM_GSI  # all of them, pins and MSIs (INTPIN + INTMSI = 217)
        if self.int_pins is not None:
            return self.int_pins
        return plat.arm.spi_count if plat.arm is not None else 0


def build_platform(
    facts: PlatformFacts, given: Platform | None, api: str, rows: list[list[int]], where: str
) -> tuple[Platform, list[str]]:
    """The platform: ``given`` (checked against the log) or one built from the boot lines."""
    notes: list[str] = []
    max_cpu = max((r[1] for r in rows), default=-1)
    if given is not None:
        if given.api != api:
            notes.append(f"log read as {api}; the platform file said {given.api}")
            given = given.with_api(api)
        if facts.cpus and facts.cpus != given.cpus:
            notes.append(f"the log says {facts.cpus} CPUs (INFO: CPU#), the platform file {given.cpus}")
        return given, notes
    arch = facts.arch
    if not arch:
        if facts.routed_gsis:
            arch = "x86_64"
        else:
            raise TraceError(f"{where}: cannot tell the architecture (no banner, GIC or APIC lines); use --platform")
    cpus = facts.cpus
    if not cpus:
        cpus = max(max_cpu + 1, facts.lapics, 1)
        notes.append(f"CPU count not printed (no INFO: CPU# line): {cpus} from the CPUs seen")
    hz = facts.freq or facts.timer_hz
    if not facts.freq:
        notes.append(
            "STC frequency not printed (no INFO: FREQ line): "
            + (f"{hz} Hz from the timer line" if hz else "set to 1 Hz (unknown)")
        )
    kernel = Kernel(name="NOVA", version=facts.version, api=api)
    if arch == "x86_64":
        x86 = _x86(facts, api, notes)
        plat = Platform(arch=arch, cpus=cpus, stc_hz=hz or 1, kernel=kernel, x86=x86)
    else:
        plat = Platform(arch=arch, cpus=cpus, stc_hz=hz or 1, kernel=kernel, arm=_arm(facts, notes))
    notes.append("devices, IOMMU interrupt remapping and ITS units are not in the console log: none recorded")
    try:
        return plat.validated(where), notes
    except TraceError as e:
        raise TraceError(f"{e}; the boot lines describe an unusual machine, use --platform") from None


def _x86(facts: PlatformFacts, api: str, notes: list[str]) -> X86Interrupts:
    ioapics = list(facts.ioapics)
    if api == API_2024:  # NOVA clips every IOAPIC's range at its 217 global GSIs
        ioapics = [
            dataclasses.replace(a, pins=min(a.pins, X86_NUM_GSI - a.gsi_base))
            for a in ioapics
            if a.gsi_base < X86_NUM_GSI
        ]
    if not ioapics and facts.int_pins:
        ioapics = [IoApic(id=0, gsi_base=0, pins=facts.int_pins, source_id=0)]
        notes.append(f"no APIC: I/O lines: one IOAPIC assumed for the {facts.int_pins} pins of INFO: INT#")
    pins = max((a.gsi_base + a.pins for a in ioapics), default=0)
    msis = facts.int_msis if facts.int_msis is not None else max(0, X86_NUM_GSI - pins)
    if facts.int_pins is None:
        notes.append(f"INFO: INT# not printed: {pins} pins from the IOAPICs, {msis} MSIs assumed")
    return X86Interrupts(ioapics=tuple(ioapics), msi_count=msis, remapping=False)


def _arm(facts: PlatformFacts, notes: list[str]) -> ArmInterrupts:
    spis = facts.int_pins
    if spis is None and facts.gic_intids:
        spis = min(facts.gic_intids, ARM_BASE_RSV) - ARM_BASE_SPI
    if spis is None:
        spis = 0
        notes.append("neither INFO: INT# nor a GICD line: SPI count 0")
    return ArmInterrupts(gic_version=facts.gic_version or 3, spi_count=spis)
