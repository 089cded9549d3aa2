#!/usr/bin/python3
"""How well do normals derived from the material set's stored heights match the sources' own
normal maps? Prints, per class and overall, the mean angular error in degrees (a markdown table
for docs/training-data.md).

  tools/data/normal_check.py --set DIR --src SRC [--manifest M] [-j N]

  --set DIR    the material set (128px/, 64px/, manifest.csv), e.g. /work/shared/data/materials-train
  --src SRC    the extracted source textures of tools/data/rebuild-materials.sh
               (<--work>/src, kept with --keep)
  --manifest M default DIR/manifest.csv

Per sample and resolution (128 and 64 px):
  (a) reference: the source normal map, decoded as rgb * 2 - 1, green negated where the manifest
      says 'DX (+Y down)' (so +Y is up, OpenGL), each component box-resized to the row's
      level_size and wrap-cropped at crop_box exactly like the stored maps (tools/data/materials.py;
      the 64 px reference is the 2x2 mean of the 128 px window), then renormalised;
  (b) derived: h = stored height png / 65535, s = height_range_texels_128 (or _64),
      p = (h[x+1] - h[x-1]) / 2 * s, q = (h[y+1] - h[y-1]) / 2 * s (rows down, wrapping around
      the 128 / 64 px image), n = normalize(-p, +q, 1): the formula of Tessera's GPU normals op.
The error is acos(a . b) per pixel, averaged over a sample's pixels, then over the samples of a
class (every sample weighs the same). 'interior' leaves out the 1-pixel border, where the
wrap-around difference of a crop (not itself tileable) compares texels that are not neighbours.
'flat' is the error of the constant normal (0, 0, 1): what a map with no relief would score.
A second table repeats the 128 px error with the strength halved and doubled.
"""
import argparse
import collections
import multiprocessing
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import materials as mt  # noqa: E402  (the same decode / resize / crop as the rebuild)


# Strength multiples tried at 128 px, to check that the manifest's height range is the right scale.
STRENGTH_SCALES = (0.5, 2.0)


def normalize(v):
    return v / np.sqrt((v * v).sum(axis=-1, keepdims=True))


def derived_normals(h, strength):
    """Tessera's normals op: wrap-around central differences, OpenGL (+Y up)."""
    p = (np.roll(h, -1, axis=1) - np.roll(h, 1, axis=1)) / 2 * strength
    q = (np.roll(h, -1, axis=0) - np.roll(h, 1, axis=0)) / 2 * strength
    return normalize(np.stack([-p, q, np.ones_like(h)], axis=-1))


def angles(a, b):
    return np.degrees(np.arccos(np.clip((a * b).sum(axis=-1), -1, 1)))


def stored_height(set_dir, res, row):
    with Image.open(mt.sample_path(set_dir, res, row, "height")) as im:
        a = np.asarray(im)
    if a.dtype != np.uint16 and im.mode not in ("I", "I;16"):
        raise ValueError("%s: height is not a 16-bit PNG (mode %s)" % (row["file_stem"], im.mode))
    return a.astype(np.float64) / 65535


def check_group(job):
    rows, src, set_dir = job
    n = mt.load_float_rgb(mt.source_path(src, rows[0]["normal"])) * 2 - 1
    if rows[0]["green_convention"].startswith("DX"):
        n[..., 1] *= -1
    levels = {}
    out = []
    for row in rows:
        size = mt.parse_size(row["level_size"])
        if size not in levels:
            levels[size] = mt.box_resize(n, size)
        x, y = mt.parse_crop(row)
        ref128 = mt.window(levels[size], x, y).astype(np.float64)
        refs = {128: ref128, 64: mt.blocks2x2(ref128).mean(axis=(1, 3))}
        for res, ref in refs.items():
            ref = normalize(ref)
            strength = float(row["height_range_texels_%d" % res])
            err = angles(ref, derived_normals(stored_height(set_dir, res, row), strength))
            flat = np.degrees(np.arccos(np.clip(ref[..., 2], -1, 1)))
            out.append((row["cls"], res, float(err.mean()), float(err[1:-1, 1:-1].mean()), float(flat.mean())))
            if res == 128:
                h = stored_height(set_dir, res, row)
                for k in STRENGTH_SCALES:
                    e = angles(ref, derived_normals(h, strength * k))
                    out.append((row["cls"], "x%g" % k, float(e.mean()), 0.0, 0.0))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--manifest")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    rows = mt.read_manifest(args.manifest or os.path.join(args.set, "manifest.csv"))
    jobs = [(rs, args.src, args.set) for rs in mt.group_rows(rows).values()]
    results = []
    with multiprocessing.Pool(args.jobs) as pool:
        for r in pool.imap_unordered(check_group, jobs):
            results.extend(r)
    per = collections.defaultdict(list)
    for cls, res, err, inner, flat in results:
        per[cls, res].append((err, inner, flat))
        per["all", res].append((err, inner, flat))
    classes = sorted({c for c, _ in per if c != "all"}) + ["all"]
    print("| class | samples | 128 px: mean error | interior | flat | 64 px: mean error | interior | flat |")
    print("|---|---|---|---|---|---|---|---|")
    for c in classes:
        cells = []
        for res in (128, 64):
            m = np.mean(per[c, res], axis=0)
            cells += ["%.1f°" % m[0], "%.1f°" % m[1], "%.1f°" % m[2]]
        name = "**all**" if c == "all" else c
        print("| %s | %d | %s |" % (name, len(per[c, 128]), " | ".join(cells)))
    print()
    print("128 px mean error with the strength scaled (x1 = height_range_texels_128, as above):")
    print()
    print("| class | x0.5 | x1 | x2 |")
    print("|---|---|---|---|")
    for c in classes:
        cells = [np.mean(per[c, key], axis=0)[0] for key in ("x0.5", 128, "x2")]
        print("| %s | %s |" % ("**all**" if c == "all" else c, " | ".join("%.1f°" % v for v in cells)))


if __name__ == "__main__":
    main()
