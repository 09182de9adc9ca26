"""pcap / pcapng files in and out, through dpkt.

``read_pcap("capture.pcapng")`` yields one :class:`RawFrame` per packet with Suricata's
``pcap_cnt`` (1-based packet number in the file, printed in EVE records so an analyst can jump
to the packet in Wireshark) and the file's link type (``packet_info.linktype`` in EVE).
Nanosecond pcaps and pcapng are recognised by their magic number.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dpkt

__all__ = [
    "RawFrame",
    "read_pcap",
    "write_pcap",
    "PcapError",
    "LINKTYPE_NULL",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_IPV4",
    "LINKTYPE_IPV6",
]

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


class PcapError(ValueError):
    """The file is not a readable pcap or pcapng capture."""


@dataclass(frozen=True, slots=True)
class RawFrame:
    ts: float
    linktype: int
    data: bytes
    pcap_cnt: int


def read_pcap(path: str | os.PathLike[str]) -> Iterator[RawFrame]:
    """Frames of a pcap or pcapng file, in file order. A truncated last record ends the
    iteration quietly (captures cut by a full disk are common); a bad header raises PcapError."""
    p = Path(path)
    with p.open("rb") as fh:
        magic = fh.read(4)
        fh.seek(0)
        try:
            reader = dpkt.pcapng.Reader(fh) if magic == _PCAPNG_MAGIC else dpkt.pcap.Reader(fh)
        except (ValueError, dpkt.dpkt.Error) as exc:
            raise PcapError(f"{p}: not a pcap/pcapng file ({exc})") from exc
        linktype = reader.datalink()
        cnt = 0
        it = iter(reader)
        while True:
            try:
                ts, buf = next(it)
            except StopIteration:
                return
            except (dpkt.dpkt.NeedData, dpkt.dpkt.UnpackError, ValueError):
                return
            cnt += 1
            yield RawFrame(float(ts), linktype, bytes(buf), cnt)


def write_pcap(
    path: str | os.PathLike[str],
    frames: Iterable[tuple[float, bytes]],
    *,
    linktype: int = LINKTYPE_ETHERNET,
    pcapng: bool = False,
    snaplen: int = 262144,
) -> Path:
    """Write ``(ts, frame)`` pairs (e.g. from :mod:`.pcapgen`) as a pcap (or pcapng) file."""
    p = Path(path)
    with p.open("wb") as fh:
        if pcapng:
            writer = dpkt.pcapng.Writer(fh, snaplen=snaplen, linktype=linktype)
        else:
            writer = dpkt.pcap.Writer(fh, snaplen=snaplen, linktype=linktype, nano=True)
        for ts, data in frames:
            writer.writepkt(data, ts=ts)
    return p
