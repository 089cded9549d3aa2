"""Writes the small PNG fixtures of tests/data/test_image_io.cpp that stb cannot write itself:
a 16-bit RGB PNG (4x3) and a 16-bit gray PNG, with known values. Run with /usr/bin/python3."""
import struct
import sys
import zlib


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png16(path, width, height, channels, value):
    color_type = {1: 0, 3: 2}[channels]
    raw = b""
    for y in range(height):
        raw += b"\x00"
        for x in range(width):
            for c in range(channels):
                raw += struct.pack(">H", value(x, y, c))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/png"
# value = 65535 * (x + y + c) / 10 rounded: a ramp with exact expected floats.
png16(f"{out}/rgb16.png", 4, 3, 3, lambda x, y, c: round(65535 * (x + y + c) / 10))
png16(f"{out}/gray16.png", 4, 3, 1, lambda x, y, c: round(65535 * (x + 2 * y) / 10))
