"""``python3 -m tessera sample``: the common options of ``tessera sample``, through the C API.

The files are those ``tessera sample`` writes for the same options (same pixels; the PNG
encoder differs): a model with albedo only writes PATTERN as RGBA; a material model (or any
run with --maps) writes ``<stem>_<map>.png`` per map: albedo and normal RGB, roughness 8-bit
grey, height 16-bit grey. The C API gives heights in 8 bits, so the 16-bit height file holds
round(v * 255) * 257: the CLI's 16-bit value to within half an 8-bit step.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._api import _MAP_NAMES, Context, LogLevel, Map, TesseraError

USAGE_NOTES = """\
Not mirrored (use `tessera sample`): --variance, --no-clip, --init/--mask/--strength (img2img
and inpainting are Context.submit's init=, mask=, strength=), --grid, --batch.
"""


def _bundled_model() -> Optional[Path]:
    # plugin/bindings/python/tessera/cli.py -> the source tree's models/default.safetensors,
    # the CLI's default when run from the tree.
    p = Path(__file__).resolve().parents[4] / "models" / "default.safetensors"
    return p if p.exists() else None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m tessera sample",
        description="Generate textures with a Tessera model (the C API through ctypes).",
        epilog=USAGE_NOTES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", help="model file (default: the bundled models/default.safetensors)")
    p.add_argument("--class", dest="class_", default="0", metavar="NAME|INDEX|all",
                   help="class to generate (default 0); all: --count images of every class")
    p.add_argument("--seed", type=int, default=0, help="image i uses seed N+i (default 0)")
    p.add_argument("--count", type=int, default=1, help="images per class (default 1)")
    p.add_argument("--size", metavar="WxH", help="output size (default: the model's training size)")
    p.add_argument("--sampler", default="dpmpp2m", choices=["ddpm", "ddim", "dpmpp2m"], help="(default dpmpp2m)")
    p.add_argument("--steps", type=int, default=25, help="(default 25)")
    p.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance weight, 1 = off (default 1)")
    p.add_argument("--eta", type=float, help="DDIM noise, 0..1 (default 0); only with --sampler ddim")
    p.add_argument("--maps", help="maps to write, e.g. albedo,height,roughness,normal (default: all it gives)")
    p.add_argument("--normal-strength", type=float, help="height range in texels for the normals (default 3)")
    p.add_argument("--normal-convention", choices=["opengl", "directx"], help="+Y up (default) or +Y down")
    p.add_argument("--out", metavar="PATTERN.png",
                   help="output path; {seed}, {index}, {class} are replaced (default {class}-{seed}.png)")
    p.add_argument("--device", help="Vulkan device index or name substring (default $TESSERA_DEVICE, else the best)")
    p.add_argument("--library", help="libtessera.so to load (default: $TESSERA_LIBRARY, the build, the linker)")
    return p


def _parse_size(text: str) -> Tuple[int, int]:
    m = re.fullmatch(r"(\d+)[xX](\d+)", text)
    if not m:
        raise ValueError(f"--size: expected WxH, e.g. 128x128; got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _chosen_maps(model_maps: Sequence[Map], option: Optional[str]) -> List[Map]:
    """The maps to write, in the model's order, normal last (as the CLI's --maps)."""
    if option is None:
        return list(model_maps)
    available = ", ".join(m.name.lower() for m in model_maps)
    chosen = set()
    for name in (item.strip() for item in option.split(",")):
        m = _MAP_NAMES.get(name)
        if m not in model_maps:
            why = " (normals are derived from height, which it has not)" if name == "normal" else ""
            raise ValueError(f"--maps: {name!r} is not a map of this model{why}; it gives: {available}")
        chosen.add(m)
    return sorted(chosen)


def _output_path(pattern: str, count: int, index: int, seed: int, class_name: str) -> Path:
    if count > 1 and "{seed}" not in pattern and "{index}" not in pattern:
        p = Path(pattern)  # several images need several names
        pattern = str(p.parent / f"{p.stem}-{{index}}{p.suffix}")
    return Path(pattern.replace("{seed}", str(seed)).replace("{index}", str(index)).replace("{class}", class_name))


def _output_paths(pattern: str, seeds: List[int], class_names: List[str]) -> List[Path]:
    paths: List[Path] = []
    first: Dict[str, int] = {}
    for i, (seed, name) in enumerate(zip(seeds, class_names)):
        path = _output_path(pattern, len(seeds), i, seed, name)
        key = os.path.normpath(path)
        if key in first:
            raise ValueError(f"--out {pattern!r} gives images {first[key]} and {i} the same path {str(path)!r}")
        first[key] = i
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise ValueError(f"--out: the folder {str(folder)!r} of {str(path)!r} does not exist")
        paths.append(path)
    return paths


def _write_png(path: Path, pixels: np.ndarray) -> None:
    """Writes atomically (a temporary file in the same folder, then renamed): never a partial file."""
    from PIL import Image  # only the CLI writes files; the package itself needs numpy alone

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent or "."))
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(pixels).save(f, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _map_file_pixels(m: Map, pixels: np.ndarray) -> np.ndarray:
    # The CLI stores height in 16 bits; 8-bit v maps onto 16 bits exactly as v * 257.
    return pixels.astype(np.uint16) * 257 if m == Map.HEIGHT else pixels


def _sample(args: argparse.Namespace) -> int:
    if args.eta is not None and args.sampler != "ddim":
        raise ValueError(
            f"--eta is the ddim sampler's noise; this run's sampler is {args.sampler} (add --sampler ddim)"
        )
    if args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}")
    if args.out == "":
        raise ValueError("--out is empty")
    model_path = args.model or _bundled_model()
    if model_path is None:
        raise ValueError("no --model given and no bundled model found (models/default.safetensors)")
    width, height = _parse_size(args.size) if args.size else (0, 0)

    validation_messages = []

    def log(level: LogLevel, message: str) -> None:
        print(f"[tessera {level.name.lower()}] {message}", file=sys.stderr)
        if "vulkan validation" in message:
            validation_messages.append(message)

    with Context(device=args.device, library=args.library, log=log) as ctx, ctx.load_model(model_path) as model:
        info = model.info
        material = len(info.maps) > 1 or args.maps is not None
        chosen = _chosen_maps(info.maps, args.maps)
        if (args.normal_strength is not None or args.normal_convention is not None) and Map.NORMAL not in chosen:
            raise ValueError(
                "--normal-strength and --normal-convention shape the normal map, which this run does not write"
            )
        names = model.class_names
        if names and args.class_ == "all":
            labels = [c for c in range(len(names)) for _ in range(args.count)]
        else:
            try:
                labels = [model.find_class(args.class_)] * args.count
            except TesseraError as e:
                raise ValueError(f"--class: {e.message}") from None
        class_names = [names[c] if names else "sample" for c in labels]
        seeds = [args.seed + i % args.count for i in range(len(labels))]
        paths = _output_paths(args.out or "{class}-{seed}.png", seeds, class_names)
        options = dict(
            width=width,
            height=height,
            sampler=args.sampler,
            steps=args.steps,
            guidance=args.guidance,
            eta=args.eta or 0.0,
            normal_strength=args.normal_strength or 0.0,
            normal_convention=args.normal_convention or "opengl",
        )
        for label, seed, path in zip(labels, seeds, paths):
            with model.submit(class_name=label, seed=seed, **options) as job:
                job.wait()
                if not material:
                    _write_png(path, job.read_rgba(Map.ALBEDO))
                    print(path, flush=True)
                    continue
                for m in chosen:
                    map_path = path.with_name(f"{path.stem}_{m.name.lower()}{path.suffix}")
                    _write_png(map_path, _map_file_pixels(m, job.read_map(m)))
                    print(map_path, flush=True)
    return 3 if validation_messages else 0  # as `tessera sample`: validation output fails the run


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``python3 -m tessera``; returns the exit status (1 on an error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print("usage: python3 -m tessera sample [options]   (sample --help lists them)")
        return 0
    if not argv or argv[0] != "sample":
        print("usage: python3 -m tessera sample [options]   (sample --help lists them)", file=sys.stderr)
        return 2
    args = _parser().parse_args(argv[1:])
    try:
        return _sample(args)
    except (TesseraError, ValueError, OSError) as e:
        print(f"tessera sample: error: {e}", file=sys.stderr)
        return 1
