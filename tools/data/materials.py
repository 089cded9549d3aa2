#!/usr/bin/python3
"""Helper for tools/data/rebuild-materials.sh: rebuilds Tessera's material training set
(albedo, height, roughness) from the files of its Debian packages, following the set's
manifest.csv, and compares two copies of it.

  materials.py extract --manifest M --root ROOT --out SRC
      copy every zip member the manifest names (0 A.D.'s public.zip) out of the archives under
      ROOT (a dpkg -x style tree) into SRC/<archive file name>/<member path>; loose files are
      unpacked by the shell script straight into SRC/<path>
  materials.py build --manifest M --src SRC --out OUT [-j N]
      write OUT/{128px,64px}/<class>/<file_stem>_{albedo,height,roughness}.png for every row
  materials.py verify OUT REF
      compare REF with OUT: albedo and roughness PNGs and every non-PNG file byte for byte,
      heights within 1 step of 16 bits; exit status 1 on any miss

Processing, one source set (albedo, normal and specular file of a manifest row); the rules are
the set's README.md, the numeric details below were recovered by experiment against the
published set (the README leaves them open):
  * decode with Pillow (.jpg, .png, .tga, 0 A.D. DXT .dds top level), convert to RGB (alpha and
    palettes dropped), then to float32 / 255;
  * albedo: that float image; roughness (at the specular map's resolution, float32):
    redeclipse/cube2: 1 - mean(R, G, B); 0ad: 1 - (0.2126 R + 0.7152 G + 0.0722 B);
  * height (at the normal map's resolution): n = rgb * 2 - 1 (float32), green negated for
    'DX (+Y down)' rows, n /= sqrt(sum n^2), nz = max(nz, 0.15), p = -nx / nz, q = ny / nz
    (rows down); Frankot-Chellappa on the periodic grid with the continuous derivative
    operators: H = (-i wx P - i wy Q) / (wx^2 + wy^2), H(0) = 0 (which removes the mean slope),
    w = 2 pi numpy.fft.fftfreq, computed in float64; normalised to [0,1] over the whole source;
  * every map is resized to the row's level_size with Pillow's BOX filter on float32 ('F'
    mode, one channel at a time; skipped when the size already matches), then the 128x128
    window crop_box is cut from it, wrapping around the edges;
  * 128px files (numpy round, half to even): albedo round(v * 255) with a float32 product,
    roughness round(v * 255) with a float64 product, height round(v * 65535) (16-bit, float64);
  * 64px files: albedo/roughness (a + b + c + d + 2) // 4 of the stored 128px values; height
    the mean of the 4 float heights of the 128px window, then round(v * 65535);
  * PNG via Pillow with optimize=True (no ancillary chunks).
These rules give albedo and roughness byte for byte; height differs from the published set by
at most 1 step of 16 bits in a few pixels (float rounding in the original's FFT / resize path,
which this rebuild does not reproduce exactly; measured in docs/training-data.md).
"""
import io
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datalib import compare_trees, extract_zip_members, main, print_some, read_manifest, run_pool, write_atomic  # noqa: E402

MAPS = ("albedo", "height", "roughness")
MAPS_SOURCES = ("albedo", "normal", "specular")  # manifest columns naming the source files
LUMA709 = (0.2126, 0.7152, 0.0722)
NZ_MIN = 0.15  # README step 5: nz clipped at 0.15 so steep texels give bounded slopes
CROP = 128


def source_path(src_dir, original):
    """'usr/.../public.zip:art/x.dds' -> SRC/public.zip/art/x.dds; 'usr/.../x.jpg' -> SRC/usr/.../x.jpg"""
    if ":" in original:
        archive, member = original.split(":", 1)
        return os.path.join(src_dir, os.path.basename(archive), member)
    return os.path.join(src_dir, original)


def parse_size(text):
    w, h = (int(v) for v in text.split("x"))
    return w, h


def parse_crop(row):
    """'x0,y0,x1,y1' or 'x0,y0,x1,y1 (wraps)' -> (x0, y0); the window is always 128x128."""
    x0, y0, x1, y1 = (int(v) for v in row["crop_box"].split(" ")[0].split(","))
    if (x1 - x0, y1 - y0) != (CROP, CROP):
        raise ValueError("%s: crop_box %s is not %dx%d" % (row["file_stem"], row["crop_box"], CROP, CROP))
    return x0, y0


# ---------------------------------------------------------------------------------- extract


def cmd_extract(args):
    rows = read_manifest(args.manifest)
    wanted = {}
    for r in rows:
        for m in MAPS_SOURCES:
            if ":" in r[m]:
                archive, member = r[m].split(":", 1)
                wanted.setdefault(archive, set()).add(member)
    extract_zip_members(args.root, wanted, args.out)


# ------------------------------------------------------------------------------- processing


def load_float_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.float32) / np.float32(255)


def roughness_of(spec, package):
    """Roughness = 1 - specular intensity as each engine reads the map (README step 6)."""
    if package == "0ad-data":
        r, g, b = spec[..., 0], spec[..., 1], spec[..., 2]
        intensity = r * LUMA709[0] + g * LUMA709[1] + b * LUMA709[2]
    else:
        intensity = spec.mean(axis=-1)
    return 1 - intensity


def slopes(normal_rgb, green_convention):
    """Unit normals from an RGB normal map -> slopes p = dh/dx, q = dh/drow in texels (GL reading)."""
    n = normal_rgb * 2 - 1
    if green_convention.startswith("DX"):
        n[..., 1] *= -1
    elif not green_convention.startswith("GL"):
        raise ValueError("unknown green_convention %r" % green_convention)
    n = n / np.sqrt((n * n).sum(axis=-1, keepdims=True))
    nz = np.maximum(n[..., 2], np.float32(NZ_MIN))
    return -n[..., 0] / nz, n[..., 1] / nz


def frankot_chellappa(p, q):
    """Periodic least-squares integral of the slope field (p, q), mean 0 (float64)."""
    h, w = p.shape
    wx = 2 * np.pi * np.fft.fftfreq(w)[None, :]
    wy = 2 * np.pi * np.fft.fftfreq(h)[:, None]
    den = wx**2 + wy**2
    den[0, 0] = 1
    spec = (-1j * wx * np.fft.fft2(p) - 1j * wy * np.fft.fft2(q)) / den
    spec[0, 0] = 0  # drops the mean slope's unintegrable ramp and the constant
    return np.real(np.fft.ifft2(spec))


def height_of(normal_rgb, green_convention):
    """Height in [0,1] over the whole source, and its range (max - min) in normal-map texels."""
    p, q = slopes(normal_rgb, green_convention)
    h = frankot_chellappa(p, q)
    lo, hi = h.min(), h.max()
    return (h - lo) / (hi - lo), float(hi - lo)


def box_resize(a, size):
    """Pillow BOX resize of a float image (H, W) or (H, W, C) to size (w, h), per channel in 'F' mode."""
    if a.shape[1::-1] == tuple(size):
        return a.astype(np.float32)
    if a.ndim == 2:
        return np.asarray(Image.fromarray(np.ascontiguousarray(a, dtype=np.float32)).resize(size, Image.Resampling.BOX))
    return np.stack([box_resize(a[..., c], size) for c in range(a.shape[2])], axis=-1)


def window(a, x, y, size=CROP):
    """size x size window of a at (x, y), wrapping around the edges."""
    h, w = a.shape[:2]
    return a[np.arange(y, y + size) % h][:, np.arange(x, x + size) % w]


def quantise(v, maxval):
    """round(v * maxval), product in float64 (roughness, height)."""
    return np.clip(np.round(v.astype(np.float64) * maxval), 0, maxval)


def quantise_albedo(v):
    """round(v * 255) with the product in float32: the published albedo was rounded that way
    (with a float64 product, as for roughness, some x.5 ties of a box mean round the other way)."""
    return np.clip(np.round(v.astype(np.float32) * np.float32(255)), 0, 255).astype(np.uint8)


def blocks2x2(a):
    """(H, W, ...) -> (H/2, 2, W/2, 2, ...): the 2x2 blocks, for a sum or mean over axes 1 and 3."""
    h, w = a.shape[:2]
    return a.reshape(h // 2, 2, w // 2, 2, *a.shape[2:])


def half_8bit(a8):
    """64px albedo/roughness: integer mean of the 4 stored values, rounded half up."""
    s = blocks2x2(a8.astype(np.int32)).sum(axis=(1, 3))
    return ((s + 2) // 4).astype(np.uint8)


def half_height(hf):
    """64px height: mean of the 4 float heights, then quantised."""
    return quantise(blocks2x2(hf.astype(np.float64)).mean(axis=(1, 3)), 65535).astype(np.uint16)


class SourceSet:
    """The three float maps of one source set at their own resolutions, resized per level on demand."""

    def __init__(self, src_dir, row):
        self.package = row["package"]
        self.albedo = load_float_rgb(source_path(src_dir, row["albedo"]))
        self.rough = roughness_of(load_float_rgb(source_path(src_dir, row["specular"])), self.package)
        self.height, self.range_texels = height_of(load_float_rgb(source_path(src_dir, row["normal"])),
                                                   row["green_convention"])
        self.normal_w = self.height.shape[1]
        self.levels = {}

    def level(self, size):
        if size not in self.levels:
            self.levels[size] = (box_resize(self.albedo, size), box_resize(self.height, size),
                                 box_resize(self.rough, size))
        return self.levels[size]

    def sample(self, row):
        """The float 128x128 windows (albedo, height, roughness) of one manifest row."""
        x, y = parse_crop(row)
        return tuple(window(m, x, y) for m in self.level(parse_size(row["level_size"])))


def sample_pngs(albedo, height, rough):
    """{(res, map): png bytes} for one sample's float windows."""
    a8 = quantise_albedo(albedo)
    r8 = quantise(rough, 255).astype(np.uint8)
    h16 = quantise(height, 65535).astype(np.uint16)
    images = {
        (128, "albedo"): a8, (128, "height"): h16, (128, "roughness"): r8,
        (64, "albedo"): half_8bit(a8), (64, "height"): half_height(height), (64, "roughness"): half_8bit(r8),
    }
    return {k: encode_png(v) for k, v in images.items()}


def encode_png(a):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def sample_path(root, res, row, kind):
    return os.path.join(root, "%dpx" % res, row["cls"], "%s_%s.png" % (row["file_stem"], kind))


def group_key(row):
    return (row["albedo"], row["normal"], row["specular"])


def group_rows(rows):
    groups = {}
    for r in rows:
        groups.setdefault(group_key(r), []).append(r)
    return groups


def build_group(job):
    rows, src, out = job
    s = SourceSet(src, rows[0])
    for row in rows:
        check_range(row, s)
        for (res, kind), data in sample_pngs(*s.sample(row)).items():
            write_atomic(sample_path(out, res, row, kind), data)
    return len(rows)


def check_range(row, s):
    """The manifest's height_range_texels_128 must match this integral (a wrong pairing or green
    convention shows up here first)."""
    level_w = parse_size(row["level_size"])[0]
    got = s.range_texels * level_w / s.normal_w
    want = float(row["height_range_texels_128"])
    if abs(got - want) > 1e-3 * max(1.0, want):
        raise ValueError("%s: height range %.4f texels @128, manifest says %.4f" % (row["file_stem"], got, want))


def cmd_build(args):
    rows = read_manifest(args.manifest)
    groups = group_rows(rows)
    # biggest normal maps first so the pool's tail is short
    jobs = sorted(((rs, args.src, args.out) for rs in groups.values()),
                  key=lambda j: -os.path.getsize(source_path(args.src, j[0][0]["normal"])))
    done = run_pool(build_group, jobs, args.jobs, len(rows))
    print("build: %d samples (x3 maps x2 resolutions) from %d source sets" % (done, len(groups)))


# ----------------------------------------------------------------------------------- verify


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im).astype(np.int64)


def cmd_verify(args):
    exact, different, missing, extra = compare_trees(args.out, args.ref)
    ref_files = exact + different + missing
    same_pixels, within, bad = [], [], []
    worst = {}  # kind -> (max |diff|, file)
    differing_px = {}  # kind -> number of differing pixels
    for rel in different:
        o, r = os.path.join(args.out, rel), os.path.join(args.ref, rel)
        if not rel.endswith(".png"):
            bad.append((rel, "bytes differ"))
            continue
        kind = rel.rsplit("_", 1)[-1][:-4] + " " + rel.split("/", 1)[0]
        try:
            a, b = pixels(o), pixels(r)
        except Exception as e:  # an unreadable output is a miss, not a crash
            bad.append((rel, str(e)[:200]))
            continue
        if a.shape != b.shape:
            bad.append((rel, "size %s, reference %s" % (a.shape, b.shape)))
            continue
        d = np.abs(a - b)
        mx = int(d.max())
        if mx == 0:
            if "_height.png" in rel:
                same_pixels.append(rel)
            else:  # albedo and roughness must match byte for byte
                bad.append((rel, "same pixels, PNG bytes differ"))
            continue
        differing_px[kind] = differing_px.get(kind, 0) + int((d > 0).sum())
        if mx > worst.get(kind, (0, ""))[0]:
            worst[kind] = (mx, rel)
        if "_height.png" in rel and mx <= 1:
            within.append(rel)
        else:
            bad.append((rel, "max |diff| %d" % mx))
    print("verify: %s against %s" % (args.out, args.ref))
    for kind in ("albedo", "roughness", "height"):
        refs = [f for f in ref_files if f.endswith("_%s.png" % kind)]
        n = lambda lst: len([f for f in lst if f.endswith("_%s.png" % kind)])
        print("verify: %-9s %4d reference PNGs: %4d byte-identical, %4d pixel-identical, %4d within 1 step, %d missed"
              % (kind, len(refs), n(exact), n(same_pixels), n(within), n([f for f, _ in bad])))
    others = [f for f in ref_files if not f.endswith(".png")]
    print("verify: other files %d: %d byte-identical" % (len(others), len([f for f in exact if not f.endswith(".png")])))
    print("verify: %d missing, %d extra output files" % (len(missing), len(extra)))
    for kind in sorted(worst):
        mx, rel = worst[kind]
        print("verify: worst %s: max |diff| %d (%s); %d differing pixels in all" % (kind, mx, rel, differing_px[kind]))
    if not worst:
        print("verify: worst difference: 0 (every PNG pixel-identical)")
    for label, items in (("missing", missing), ("extra", extra), ("missed", ["%s: %s" % b for b in bad])):
        print_some(label, items)
    ok = not (bad or missing or extra)
    print("verify: %s" % ("OK (albedo, roughness and other files byte for byte, height within 1 step)"
                          if ok else "DIFFERENCES FOUND"))
    return 0 if ok else 1


if __name__ == "__main__":
    main(__doc__, cmd_extract, cmd_build, cmd_verify)
