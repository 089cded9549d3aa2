#!/usr/bin/python3
"""Does a texture model get each image's mean colour from the data or from the noise?

Noises real training crops to timestep t, runs the model (the PyTorch reference U-Net on the
same safetensors file), and reports, per t:
  - x0 colour error: RMS over images and channels of (mean colour of the model's x0 estimate,
    clipped to [-1, 1]) - (mean colour of the real crop). Small = the model knows the colour.
  - noise-DC slope: regression slope of the model's implied eps mean on the true eps mean.
    A model that separates noise from colour has a slope near 1 at high noise; a slope near 0
    means the noise's mean colour stays in the image, so every seed keeps its own colour cast.
Baseline: the error of guessing the class's mean colour (what an ideal model approaches at
high noise, where the image says little). Written for the bundled model's switch from eps to
v prediction (docs/default-model.md).

Usage: /usr/bin/python3 tools/model/colour_check.py MODEL [--data DIR] [--per-class 8] [--seed 0]
"""
import argparse
import glob
import os
import random
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from samplers import Schedule  # noqa: E402
from unet import load_model  # noqa: E402


def load_crops(data, classes, per_class, res, rng):
    xs, ys = [], []
    for ci, name in enumerate(classes):
        files = sorted(glob.glob(os.path.join(data, name, "*.png")))
        if not files:
            sys.exit(f"colour_check: no PNGs in {os.path.join(data, name)}")
        for f in rng.sample(files, min(per_class, len(files))):
            a = np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 127.5 - 1
            y0, x0 = rng.randrange(a.shape[0] - res + 1), rng.randrange(a.shape[1] - res + 1)
            xs.append(torch.from_numpy(np.ascontiguousarray(a[y0:y0 + res, x0:x0 + res])).permute(2, 0, 1))
            ys.append(ci)
    return torch.stack(xs), torch.tensor(ys)


def main(argv):
    root = os.path.normpath(os.path.join(HERE, "..", ".."))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "textures-train", "64px"))
    p.add_argument("--per-class", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    model, classes, _ = load_model(a.model)
    model.eval()
    cfg = model.config
    if not classes:
        sys.exit("colour_check: the model has no classes")
    sched = Schedule(cfg["schedule"], cfg["timesteps"])
    x0, y = load_crops(a.data, classes, a.per_class, cfg["train_resolution"], random.Random(a.seed))
    mean0 = x0.mean((2, 3))
    class_mean = torch.stack([mean0[y == c].mean(0) for c in range(len(classes))])
    baseline = (class_mean[y] - mean0).pow(2).mean().sqrt()
    print(f"model {a.model}: {cfg['prediction']} prediction, {len(y)} crops of {cfg['train_resolution']} px")
    print(f"guessing each class's mean colour: x0 colour error {baseline:.3f}")
    print("     t  alpha_bar  x0 colour error  noise-DC slope")
    g = torch.Generator().manual_seed(a.seed)
    for t in [200, 400, 600, 800, 900, 960, 990]:
        eps = torch.randn(x0.shape, generator=g)
        ab = float(sched.alpha_bar(t))
        xt = ab ** 0.5 * x0 + (1 - ab) ** 0.5 * eps
        with torch.no_grad():
            out = model(xt, torch.full((len(y),), float(t)), y)
        if cfg["prediction"] == "v":
            x0_hat = ab ** 0.5 * xt - (1 - ab) ** 0.5 * out
        else:
            x0_hat = (xt - (1 - ab) ** 0.5 * out) / ab ** 0.5
        eps_hat = (xt - ab ** 0.5 * x0_hat) / (1 - ab) ** 0.5
        err = (x0_hat.clamp(-1, 1).mean((2, 3)) - mean0).pow(2).mean().sqrt()
        e_dc, h_dc = eps.mean((2, 3)).flatten(), eps_hat.mean((2, 3)).flatten()
        slope = float((h_dc * e_dc).sum() / (e_dc * e_dc).sum())
        print(f"  {t:4d}  {ab:9.5f}  {err:15.3f}  {slope:14.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
