#!/usr/bin/python3
"""Quality numbers of generated material sets against the training data (issue 14, SPEC §12).

    tools/model/material_check.py --samples DIR [--data DIR] [--json OUT]

--samples: a folder of `tessera sample` outputs, <class>-<seed>_{albedo,height,roughness,normal}.png
(the default --out pattern {class}-{seed}.png with a material model). --data: the material
training set at the resolution the model learnt (default ../shared/data/materials-train/64px).

Per class it prints, for the data and for the samples:
  - corr: Pearson correlation of albedo luminance (Rec. 709 weights on the stored sRGB values)
    with height, per image, averaged: how height follows the albedo's structure;
  - height std: the spread of height within an image (0 = flat);
  - roughness mean.
For the samples it also gives, per map, the seam-to-interior energy along x and y (the mean
squared step across the wrap over the mean squared step between interior neighbours, pooled over
images and channels, as tests/diffusion/test_seamless.cpp measures it), and for the normal maps
the mean and minimum length of the decoded vectors (n = rgb / 255 * 2 - 1) and the mean blue
(B / 255).
Run with Debian's /usr/bin/python3 (python3-numpy, python3-pil).
"""
import argparse
import collections
import json
import os
import sys

import numpy as np
from PIL import Image

MAPS = ("albedo", "height", "roughness", "normal")


def read(path):
    """A PNG as floats in [0, 1]: [H, W, 3] for colour, [H, W] for grey (8 or 16 bit)."""
    img = Image.open(path)
    if img.mode in ("I;16", "I;16B", "I"):
        return np.asarray(img, dtype=np.float64) / 65535.0
    if img.mode == "L":
        return np.asarray(img, dtype=np.float64) / 255.0
    return np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0


def luminance(rgb):
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


def corr(a, b):
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else 0.0


def phase_matched(images, period=4):
    """Seam energy over the energy of interior pairs at the same phase (x = W-1 mod period): the
    U-Net downsamples by `period` (stride-2 convolutions, nearest upsampling), so it is shift-
    equivariant only by multiples of it, and the wrap pair is a block-boundary pair."""
    sx = ix = sy = iy = 0.0
    nx = ny = 0
    for im in images:
        im = im if im.ndim == 3 else im[:, :, None]
        dx = (np.roll(im, -1, axis=1) - im) ** 2
        dy = (np.roll(im, -1, axis=0) - im) ** 2
        w, h = im.shape[1], im.shape[0]
        cols = [x for x in range(w - 1) if x % period == (w - 1) % period]
        rows = [y for y in range(h - 1) if y % period == (h - 1) % period]
        sx += dx[:, -1].mean(); ix += dx[:, cols].mean()
        sy += dy[-1].mean(); iy += dy[rows].mean()
    return sx / ix, sy / iy


def seam_energy(images):
    """[seam_x, interior_x, seam_y, interior_y] sums and counts over images of [H, W(, C)]."""
    sx = ix = sy = iy = 0.0
    nsx = nix = nsy = niy = 0
    for im in images:
        im = im if im.ndim == 3 else im[:, :, None]
        dx = (np.roll(im, -1, axis=1) - im) ** 2
        dy = (np.roll(im, -1, axis=0) - im) ** 2
        sx += dx[:, -1].sum(); nsx += dx[:, -1].size
        ix += dx[:, :-1].sum(); nix += dx[:, :-1].size
        sy += dy[-1].sum(); nsy += dy[-1].size
        iy += dy[:-1].sum(); niy += dy[:-1].size
    return (sx / nsx) / (ix / nix), (sy / nsy) / (iy / niy)


def sets(folder, class_of):
    """{class: [{map: array}]} for every <stem>_albedo.png in folder (recursively)."""
    out = collections.defaultdict(list)
    for root, _, files in os.walk(folder):
        for f in sorted(files):
            if not f.endswith("_albedo.png"):
                continue
            stem = f[: -len("_albedo.png")]
            maps = {}
            for m in MAPS:
                p = os.path.join(root, f"{stem}_{m}.png")
                if os.path.exists(p):
                    maps[m] = read(p)
            out[class_of(root, stem)].append(maps)
    return out


def stats(samples):
    c = [corr(luminance(s["albedo"]), s["height"]) for s in samples if "height" in s]
    hs = [float(s["height"].std()) for s in samples if "height" in s]
    r = [float(s["roughness"].mean()) for s in samples if "roughness" in s]
    mean = lambda v: float(np.mean(v)) if v else float("nan")
    return {"images": len(samples), "corr": mean(c), "height_std": mean(hs), "roughness_mean": mean(r)}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", required=True)
    ap.add_argument("--data", default=os.path.join(here, "../../../shared/data/materials-train/64px"))
    ap.add_argument("--json")
    a = ap.parse_args()
    generated = sets(a.samples, lambda root, stem: stem.split("-")[0])
    if not generated:
        sys.exit(f"material_check: no <stem>_albedo.png in {a.samples}")
    data = sets(a.data, lambda root, stem: os.path.basename(root)) if os.path.isdir(a.data) else {}
    report = {"classes": {}, "seams": {}, "normals": {}}
    print(f"{'class':<10} {'data corr':>9} {'gen corr':>9} {'data h std':>10} {'gen h std':>9} "
          f"{'data rough':>10} {'gen rough':>9} {'images':>6}")
    for cls in sorted(generated):
        d, g = stats(data.get(cls, [])), stats(generated[cls])
        report["classes"][cls] = {"data": d, "samples": g}
        print(f"{cls:<10} {d['corr']:9.3f} {g['corr']:9.3f} {d['height_std']:10.3f} {g['height_std']:9.3f} "
              f"{d['roughness_mean']:10.3f} {g['roughness_mean']:9.3f} {g['images']:6d}")
    everything = [s for v in generated.values() for s in v]
    for m in MAPS:
        images = [s[m] for s in everything if m in s]
        if images:
            x, y = seam_energy(images)
            px, py = phase_matched(images)
            report["seams"][m] = {"x": x, "y": y, "phase_matched_x": px, "phase_matched_y": py}
            print(f"seam/interior energy {m:<9}: x {x:.3f}  y {y:.3f}; against the same phase mod 4: "
                  f"x {px:.3f}  y {py:.3f}  ({len(images)} images)")
    normals = [s["normal"] for s in everything if "normal" in s]
    if normals:
        n = np.concatenate([v.reshape(-1, 3) for v in normals]) * 2 - 1
        length = np.linalg.norm(n, axis=1)
        report["normals"] = {"length_mean": float(length.mean()), "length_min": float(length.min()),
                             "blue_mean": float(((n[:, 2] + 1) / 2).mean())}
        print("normals: length mean {length_mean:.4f} min {length_min:.4f}; mean blue {blue_mean:.3f}".format(
            **report["normals"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
