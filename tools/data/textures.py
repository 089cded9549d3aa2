#!/usr/bin/python3
"""Helper for tools/data/rebuild-textures.sh: rebuilds Tessera's texture training set from the
files of its Debian packages, following the set's manifest.csv, and compares two copies of it.

  textures.py extract --manifest M --root ROOT --out SRC
      copy every source texture the manifest names out of the archives (public.zip, *.pk3)
      under ROOT (a dpkg -x style tree) into SRC/<archive file name>/<member path>
  textures.py build --manifest M --src SRC --out OUT [-j N]
      write OUT/64px/<file> and OUT/32px/<file> for every manifest row
  textures.py verify OUT REF
      compare every file under REF with OUT: exact / pixel-identical / mismatched / missing /
      extra; exit status 1 on any difference

Processing, one manifest row (recovered from the published set, which it reproduces
byte for byte):
  1. decode the source (Pillow: DXT1/DXT5 .dds top mip level, .jpg, .tga) and convert to RGB
     (alpha is dropped, not premultiplied);
  2. level N (128/256/512): resize with Pillow's BOX filter so the shorter side is N (the other
     side round(side * N / shorter)); level "whole": the same with N = 64;
  3. take the 64x64 window whose top-left corner is crop_xy, wrapping around the edges (tileable
     sources have corners past the right/bottom edge); "whole" rows have no crop_xy: square
     sources use (0, 0), non-square ones use WHOLE_OFFSETS below;
  4. 32px file: the 64px image resized to 32x32 with BOX (a 2x2 mean);
  5. PNG via Pillow with optimize=True; sources that carry an ICC profile (some OpenArena JPEGs)
     pass it on to both PNGs as an iCCP chunk (Pillow writes im.info's profile by default),
     except crops (level 128/256/512) of tileable sources: the original build made those through
     a wrap-around path that dropped the image info, so their PNGs have no iCCP chunk.
"""
import io
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datalib import compare_trees, extract_zip_members, main, print_some, read_manifest, run_pool, write_atomic  # noqa: E402

# manifest.csv leaves crop_xy empty for "whole" rows, but for the 7 non-square sources the
# published 64px file is a 64x64 window of the shorter-side-64 image at an offset that the
# original build drew at random and did not record. These offsets were recovered by an
# exhaustive search against the published set (every offset along the long side; exactly one
# gives a pixel-identical image for each file); with them all 7 files reproduce byte for byte.
WHOLE_OFFSETS = {
    "metal/oa_base_wall_bluemetal3_whole.png": (0, 13),
    "metal/oa_base_wall_steed1gf_whole.png": (25, 0),
    "metal/oa_gothic_ceiling_ceilingtech02_d_whole.png": (45, 36),
    "metal/oa_mc_oa_dm04_ano_steelplate_whole.png": (2, 0),
    "metal/oa_proto2_panel02_whole.png": (0, 0),
    "stonework/0ad_hele_tile_c_whole.png": (29, 0),
    "wood/0ad_bridge_wood_01_whole.png": (0, 7),
}


def split_original(original):
    """'usr/.../public.zip:art/x.dds' -> ('usr/.../public.zip', 'art/x.dds')"""
    archive, member = original.split(":", 1)
    return archive, member


def source_path(src_dir, original):
    archive, member = split_original(original)
    return os.path.join(src_dir, os.path.basename(archive), member)


# ---------------------------------------------------------------------------------- extract


def cmd_extract(args):
    rows = read_manifest(args.manifest)
    wanted = {}
    for r in rows:
        archive, member = split_original(r["original"])
        wanted.setdefault(archive, set()).add(member)
    extract_zip_members(args.root, wanted, args.out)


# ------------------------------------------------------------------------------------ build


def scaled_size(w, h, n):
    s = min(w, h)
    return int(w * n / s + 0.5), int(h * n / s + 0.5)


def window(a, x, y, size=64):
    """size x size window of array a (H, W, C) at (x, y), wrapping at the edges."""
    h, w = a.shape[:2]
    rows = np.arange(y, y + size) % h
    cols = np.arange(x, x + size) % w
    return a[rows][:, cols]


def encode_png(im, icc):
    buf = io.BytesIO()
    kw = {"optimize": True}
    if icc:
        kw["icc_profile"] = icc
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


def make_sample(src, icc, row):
    w, h = src.size
    level = row["level"]
    n = 64 if level == "whole" else int(level)
    size = scaled_size(w, h, n)
    scaled = src if size == (w, h) else src.resize(size, Image.Resampling.BOX)
    if level == "whole":
        if size == (64, 64):
            x, y = 0, 0
        elif row["file"] in WHOLE_OFFSETS:
            x, y = WHOLE_OFFSETS[row["file"]]
        else:
            raise ValueError("%s: non-square 'whole' source without a recorded offset" % row["file"])
    else:
        x, y = (int(v) for v in row["crop_xy"].split(","))
    if row["source_tileable"] != "1" and (x + 64 > size[0] or y + 64 > size[1]):
        raise ValueError("%s: crop %d,%d leaves a non-tileable %dx%d source" % (row["file"], x, y, *size))
    im64 = Image.fromarray(window(np.asarray(scaled), x, y))
    im32 = im64.resize((32, 32), Image.Resampling.BOX)
    if level != "whole" and row["source_tileable"] == "1":
        icc = None  # the original build's wrap-around crop path did not carry the image info
    return encode_png(im64, icc), encode_png(im32, icc)


def build_group(job):
    src_file, rows, out = job
    src = Image.open(src_file)
    icc = src.info.get("icc_profile")
    src = src.convert("RGB")
    for row in rows:
        p64, p32 = make_sample(src, icc, row)
        write_atomic(os.path.join(out, "64px", row["file"]), p64)
        write_atomic(os.path.join(out, "32px", row["file"]), p32)
    return len(rows)


def cmd_build(args):
    rows = read_manifest(args.manifest)
    groups = {}
    for r in rows:
        groups.setdefault(source_path(args.src, r["original"]), []).append(r)
    # biggest sources first so the pool's tail is short
    jobs = sorted(((f, rs, args.out) for f, rs in groups.items()), key=lambda j: -os.path.getsize(j[0]))
    done = run_pool(build_group, jobs, args.jobs, len(rows))
    print("build: %d images per resolution from %d source textures" % (done, len(groups)))


# ----------------------------------------------------------------------------------- verify


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int16)


def cmd_verify(args):
    exact, different, missing, extra = compare_trees(args.out, args.ref)
    ref_files = exact + different + missing
    same_pixels, mismatched = [], []
    diffs = []  # (max abs diff, mean abs diff, fraction of differing channel values, file)
    for rel in different:
        o = os.path.join(args.out, rel)
        r = os.path.join(args.ref, rel)
        if rel.endswith(".png"):
            try:
                a, b = pixels(o), pixels(r)
            except Exception as e:  # unreadable output counts as a mismatch
                mismatched.append(rel)
                print("verify: %s: %s" % (rel, e))
                continue
            if a.shape == b.shape and np.array_equal(a, b):
                same_pixels.append(rel)
                continue
            if a.shape == b.shape:
                d = np.abs(a - b)
                diffs.append((int(d.max()), float(d.mean()), float((d > 0).mean()), rel))
            else:
                diffs.append((-1, 0.0, 0.0, rel))
        mismatched.append(rel)
    print("verify: %s against %s" % (args.out, args.ref))
    print("verify: %d reference files: %d byte-identical, %d pixel-identical (PNG bytes differ), "
          "%d mismatched, %d missing; %d extra output files"
          % (len(ref_files), len(exact), len(same_pixels), len(mismatched), len(missing), len(extra)))
    pngs = [f for f in ref_files if f.endswith(".png")]
    print("verify: PNGs: %d of %d byte-identical" % (len([f for f in exact if f.endswith(".png")]), len(pngs)))
    for label, items in (("pixel-identical", same_pixels), ("missing", missing), ("extra", extra)):
        print_some(label, items)
    for rel in [m for m in mismatched if not m.endswith(".png")]:
        print("verify:   mismatched: %s" % rel)
    if diffs:
        diffs.sort(reverse=True)
        print("verify: mismatched PNGs (max |diff|, mean |diff|, share of differing values):")
        for mx, mean, frac, rel in diffs[:20]:
            if mx < 0:
                print("verify:   %s: different size" % rel)
            else:
                print("verify:   %s: max %d, mean %.3f, %.3f%%" % (rel, mx, mean, 100 * frac))
        sized = [d for d in diffs if d[0] >= 0]
        if sized:
            print("verify: over all %d mismatched PNGs: max |diff| %d, mean |diff| %.4f"
                  % (len(sized), max(d[0] for d in sized), sum(d[1] for d in sized) / len(sized)))
    ok = not (same_pixels or mismatched or missing or extra)
    print("verify: %s" % ("OK, every file byte-identical" if ok else "DIFFERENCES FOUND"))
    return 0 if ok else 1


if __name__ == "__main__":
    main(__doc__, cmd_extract, cmd_build, cmd_verify)
