"""NOVA's memory-buffer console (spec appendix C.1, ``src/console_mbuf.cpp``): a dump -> its text.

Layout: a little-endian header ``uint32 RdIdx, uint32 WrIdx`` followed by an N-character ring buffer
(N = dump size - 8; 4088 for NOVA's one page). The kernel writes character ``WrIdx`` and advances it; when
the next write would reach ``RdIdx`` it advances ``RdIdx`` first, dropping the oldest character. So the
unread text is ``RdIdx .. WrIdx-1`` (wrapping), and its first line is cut unless the character just
before ``RdIdx`` ends a line (or was never written). Unmodified NOVA writes its trace only here once the
root PD runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HEADER = 8
MAX_DUMP = 1 << 24  # a memory-buffer console is one page; anything far larger is not one


@dataclass
class MbufText:
    text: str
    read_idx: int
    write_idx: int
    size: int  # N, characters in the ring
    first_line_cut: bool
    last_line_cut: bool
    notes: list[str] = field(default_factory=list)


def looks_like_mbuf(data: bytes) -> bool:
    """A plausible dump: both indices inside the buffer (a text log's first bytes are far larger numbers)."""
    if not HEADER + 2 <= len(data) <= MAX_DUMP:
        return False
    n = len(data) - HEADER
    rd, wr = int.from_bytes(data[0:4], "little"), int.from_bytes(data[4:8], "little")
    return rd < n and wr < n


def read_mbuf(data: bytes, where: str, *, whole: bool = False) -> MbufText:
    """The text in a memory-buffer dump: the unread part (``RdIdx .. WrIdx``), or with ``whole`` everything
    still in the buffer (for a dump taken after a consumer had read it all)."""
    from tracefmt.errors import NotATraceError

    if not looks_like_mbuf(data):
        raise NotATraceError(f"{where}: byte 0: not a memory-buffer console dump (RdIdx/WrIdx outside the buffer)")
    buf = data[HEADER:]
    n = len(buf)
    rd, wr = int.from_bytes(data[0:4], "little") % n, int.from_bytes(data[4:8], "little") % n
    notes = []
    if whole:
        raw = buf[wr:] + buf[:wr]
        start = len(raw) - len(raw.lstrip(b"\0"))
        first_cut = start == 0  # no never-written gap before the oldest character: it may be mid-line
        raw = raw[start:]
        notes.append(f"whole buffer decoded from WrIdx {wr} (RdIdx {rd} ignored): includes text a consumer read")
    else:
        raw = buf[rd:wr] if rd <= wr else buf[rd:] + buf[:wr]
        before = buf[(rd - 1) % n]
        first_cut = bool(raw) and before not in (0, 0x0A)
        if rd == wr:
            notes.append("memory buffer empty (RdIdx == WrIdx): a consumer read everything; --mbuf-all decodes it")
    raw = raw.replace(b"\0", b"")
    last_cut = bool(raw) and not raw.endswith(b"\n")
    text = raw.decode("utf-8", errors="replace")
    if first_cut:
        notes.append("first line cut: the oldest characters were overwritten (or read) before the dump")
    if last_cut:
        notes.append("last line cut: the kernel was writing it when the buffer was dumped")
    return MbufText(text, rd, wr, n, first_cut, last_cut, notes)
