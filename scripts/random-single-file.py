#!/usr/bin/env python3
"""Writes a random-weight single-file checkpoint (F16) with every key and shape of a key table
(tests/FineRewards.Diffusion.Tests/Fixtures/single-file/ldm_sd15_keys.tsv or ldm_sd21_keys.tsv), to measure
loading full-size models without downloading one: `finerewards bench load --model OUT`.
The bytes repeat a 16 MiB random block (the values are noise either way; only sizes matter).
Usage: random-single-file.py KEYS.tsv OUT.safetensors"""
import json, os, struct, sys

table, out = sys.argv[1], sys.argv[2]
entries = []
for line in open(table, encoding="utf-8"):
    if line.startswith("#") or not line.strip():
        continue
    key, shape = line.split("\t")[:2]
    dims = [int(d) for d in shape.strip("[]").split(",") if d.strip()]
    count = 1
    for d in dims:
        count *= d
    entries.append((key, dims, count * 2))
header, offset = {}, 0
for key, dims, size in entries:
    header[key] = {"dtype": "F16", "shape": dims, "data_offsets": [offset, offset + size]}
    offset += size
data = json.dumps(header, separators=(",", ":")).encode()
data += b" " * (-len(data) % 8)
block = os.urandom(16 << 20)
with open(out + ".tmp", "wb") as f:
    f.write(struct.pack("<Q", len(data)))
    f.write(data)
    left = offset
    while left > 0:
        n = min(left, len(block))
        f.write(block[:n])
        left -= n
os.replace(out + ".tmp", out)
print(f"{out}: {len(entries)} tensors, {offset / 2**20:.1f} MiB of F16 data")
