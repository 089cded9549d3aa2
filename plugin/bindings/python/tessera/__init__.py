"""Tessera from Python: texture diffusion models through libtessera.so's C API, with ctypes.

    import tessera
    with tessera.Context() as ctx, ctx.load_model("models/material.safetensors") as model:
        maps = model.generate(class_name="stone", seed=7, steps=20)
    maps["albedo"]   # (H, W, 3) uint8
    maps["height"]   # (H, W) uint8

No compiled extension: the package loads libtessera.so (see :func:`load_library` for where it
looks) and needs numpy. The README next to this file documents every shape and dtype; the C
header, plugin/include/tessera.h, every option.
"""

from ._api import (
    ClosedError,
    Context,
    Job,
    JobStatus,
    LogLevel,
    Map,
    MemoryInfo,
    Model,
    ModelInfo,
    Result,
    Sampler,
    TesseraError,
    TickStats,
    version,
)
from ._native import LIBRARY_ENV, library_candidates, load_library

__all__ = [
    "ClosedError",
    "Context",
    "Job",
    "JobStatus",
    "LIBRARY_ENV",
    "LogLevel",
    "Map",
    "MemoryInfo",
    "Model",
    "ModelInfo",
    "Result",
    "Sampler",
    "TesseraError",
    "TickStats",
    "library_candidates",
    "load_library",
    "version",
]
