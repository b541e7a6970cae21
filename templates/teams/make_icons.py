#!/usr/bin/env python3
"""Writes the Teams app icons next to this script (standard library only; run once, commit the PNGs).

color.png: 192x192, opaque, the symbol (96 px) on the accent colour with 48 px padding.
outline.png: 32x32, the same symbol in pure white (255,255,255,255) on fully transparent
(255,255,255,0) pixels, no padding, no other colour (Teams refuses anything else).
"""
import struct
import zlib
from pathlib import Path

ACCENT = (0x00, 0x52, 0xCC, 255)
WHITE = (255, 255, 255, 255)
CLEAR = (255, 255, 255, 0)


def symbol(size, x, y):
    """A diamond ring around a small diamond, filling a size x size square."""
    c = (size - 1) / 2
    d = abs(x - c) + abs(y - c)
    outer, inner, core = size / 2, size * 0.28, size * 0.13
    return d <= outer and (d >= inner or d <= core)


def png(path, size, pixel):
    raw = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(size)) for y in range(size)
    )

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    Path(path).write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


here = Path(__file__).parent
png(
    here / "color.png",
    192,
    lambda x, y: WHITE if 48 <= x < 144 and 48 <= y < 144 and symbol(96, x - 48, y - 48) else ACCENT,
)
png(here / "outline.png", 32, lambda x, y: WHITE if symbol(32, x, y) else CLEAR)
