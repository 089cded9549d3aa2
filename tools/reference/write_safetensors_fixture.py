#!/usr/bin/env python3
"""Writes tests/fixtures/reference.safetensors: a tiny model-shaped safetensors file made
with nothing but struct and json, independently of Tessera's C++ writer, laid out the way the
reference (Rust/Python) safetensors writer lays files out: compact JSON header with
"__metadata__" first, tensors sorted by element size (largest first) then name, stored
back to back, header padded with spaces so the data section starts 8-byte aligned.

tests/model/test_safetensors.cpp reads it and checks every value below, and regenerates it
to check that the committed file is what this script writes.

Usage: write_safetensors_fixture.py [OUTPUT]   (default: tests/fixtures/reference.safetensors)
"""
import json
import pathlib
import struct
import sys


def bf16(values):
    # bfloat16 is the top half of a float32; the values below are exact in bf16.
    return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)


TENSORS = [
    # name, dtype, element size, shape, little-endian bytes
    ("conv_in.weight", "F32", 4, [2, 3], struct.pack("<6f", *[0.5 * i - 1.0 for i in range(6)])),
    ("scalar", "F32", 4, [], struct.pack("<f", 3.25)),
    ("empty", "F32", 4, [0], b""),
    ("labels", "I32", 4, [4], struct.pack("<4i", -1, 0, 7, 2147483647)),
    ("time_embed.bias", "F16", 2, [3], struct.pack("<3e", 1.0, -2.5, 65504.0)),
    ("norm.weight", "BF16", 2, [2, 2], bf16([1.0, -0.5, 3.0, 0.15625])),
    ("mask", "U8", 1, [5], bytes([0, 1, 2, 254, 255])),
]

CONFIG = {
    "in_channels": 3, "out_channels": 3, "base_channels": 32, "channel_mult": [1, 2],
    "num_res_blocks": 1, "attention_resolutions": [8], "num_heads": 1, "norm_groups": 8,
    "dropout": 0.0, "num_classes": 2, "padding": "circular", "train_resolution": 32,
    "schedule": "cosine", "timesteps": 1000, "prediction": "eps",
}

METADATA = {
    "tessera.format_version": "1",
    "tessera.config": json.dumps(CONFIG, separators=(",", ":"), sort_keys=True),
    "tessera.classes": json.dumps(["brick", "moss"]),
    "tessera.provenance.writer": "tools/reference/write_safetensors_fixture.py",
}


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/reference.safetensors")
    ordered = sorted(TENSORS, key=lambda t: (-t[2], t[0]))
    header = {"__metadata__": METADATA}
    data = b""
    for name, dtype, size, shape, raw in ordered:
        count = 1
        for d in shape:
            count *= d
        assert len(raw) == count * size, name
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(struct.pack("<Q", len(text)) + text + data)


if __name__ == "__main__":
    main()
