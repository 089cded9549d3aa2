"""The C API of plugin/include/tessera.h, one to one, as ctypes declarations.

Structs mirror the header's layout field by field (the tests compare every ``ctypes.sizeof``
with the C ``sizeof``). Nothing here checks results: :mod:`tessera._api` does.
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_float,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Dict, List, Union

# The header this module mirrors. A library with another major is refused; an older minor
# lacks functions used here (tsr_job_read_map, tsr_model_find_class: 1.3).
VERSION_MAJOR = 1
ARITHMETIC_PORTABLE = 2  # tsr_arithmetic (1.4)
VERSION_MINOR = 3

LIBRARY_ENV = "TESSERA_LIBRARY"


def make_version(major: int, minor: int, patch: int) -> int:
    """TSR_MAKE_VERSION."""
    return (major << 22) | (minor << 12) | patch


def split_version(version: int) -> tuple:
    """(major, minor, patch) of a TSR_VERSION value."""
    return version >> 22, (version >> 12) & 0x3FF, version & 0xFFF


# ---- handles ---------------------------------------------------------------------------------
class tsr_context(Structure):
    _fields_ = [("id", c_uint64)]


class tsr_model(Structure):
    _fields_ = [("id", c_uint64)]


class tsr_job(Structure):
    _fields_ = [("id", c_uint64)]


# ---- descs -----------------------------------------------------------------------------------
tsr_log_fn = CFUNCTYPE(None, c_void_p, c_int32, c_char_p)
tsr_queue_lock_fn = CFUNCTYPE(None, c_void_p)


class tsr_vulkan_device(Structure):
    # Dispatchable Vulkan handles are pointers. All zero: Tessera makes its own device.
    _fields_ = [
        ("instance", c_void_p),
        ("physical_device", c_void_p),
        ("device", c_void_p),
        ("queue_family_index", c_uint32),
        ("queue_index", c_uint32),
        ("features", c_uint32),
        ("lock_queue", c_void_p),
        ("unlock_queue", c_void_p),
        ("queue_lock_user_data", c_void_p),
        ("result_queue_families", POINTER(c_uint32)),
        ("result_queue_family_count", c_uint32),
    ]


class tsr_context_desc(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("flags", c_uint32),
        ("vulkan", tsr_vulkan_device),
        ("device", c_char_p),
        ("pipeline_cache_dir", c_char_p),
        ("log", tsr_log_fn),
        ("log_user_data", c_void_p),
        ("arithmetic", c_uint32),  # since 1.4: ARITHMETIC_DEFAULT / _FAST / _PORTABLE
    ]


class tsr_memory_info(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("device_bytes_in_use", c_uint64),
        ("device_local_heap_bytes", c_uint64),
    ]


class tsr_model_desc(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("path", c_char_p),
        ("data", c_void_p),
        ("data_size", c_size_t),
    ]


class tsr_model_info(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("class_count", c_uint32),
        ("train_resolution", c_uint32),
        ("size_multiple", c_uint32),
        ("parameter_count", c_uint64),
        ("map_mask", c_uint32),
    ]


class tsr_generate_desc(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("model", tsr_model),
        ("class_name", c_char_p),
        ("class_index", c_uint32),
        ("seed", c_uint64),
        ("width", c_uint32),
        ("height", c_uint32),
        ("sampler", c_int32),
        ("steps", c_uint32),
        ("guidance", c_float),
        ("eta", c_float),
        ("init_rgba", c_void_p),
        ("init_row_pitch", c_uint32),
        ("strength", c_float),
        ("mask", c_void_p),
        ("mask_row_pitch", c_uint32),
        ("init_rgba_size", c_size_t),
        ("mask_size", c_size_t),
        ("max_step_gflop", c_float),
        ("normal_strength", c_float),
        ("normal_flags", c_uint32),
    ]


class tsr_tick_stats(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("steps_run", c_uint32),
        ("jobs_finished", c_uint32),
        ("jobs_pending", c_uint32),
        ("gpu_ms", c_double),
        ("max_step_ms", c_double),
        ("steps_submitted", c_uint32),
        ("busy", c_uint32),
    ]


class tsr_vk_image(Structure):
    # Non-dispatchable Vulkan handles are 64-bit integers; enums are 32-bit.
    _fields_ = [
        ("image", c_uint64),
        ("format", c_int32),
        ("layout", c_int32),
        ("width", c_uint32),
        ("height", c_uint32),
        ("semaphore", c_uint64),
        ("wait_value", c_uint64),
    ]


class tsr_vk_image_copy_desc(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("image", c_uint64),
        ("format", c_int32),
        ("old_layout", c_int32),
        ("new_layout", c_int32),
        ("mip_level", c_uint32),
        ("array_layer", c_uint32),
        ("x", c_int32),
        ("y", c_int32),
        ("width", c_uint32),
        ("height", c_uint32),
        ("mip_levels", c_uint32),
        ("array_layers", c_uint32),
        ("usage", c_uint32),
    ]


STRUCTS = (
    tsr_context_desc,
    tsr_vulkan_device,
    tsr_model_desc,
    tsr_model_info,
    tsr_generate_desc,
    tsr_tick_stats,
    tsr_vk_image,
    tsr_vk_image_copy_desc,
    tsr_memory_info,
)


def new_struct(cls):
    """A zeroed desc with struct_size set, the header's rule for every desc."""
    s = cls()
    s.struct_size = ctypes.sizeof(cls)
    return s


# ---- functions -------------------------------------------------------------------------------
_R = c_int32  # tsr_result
_PROTOTYPES = {
    "tsr_get_version": (c_uint32, []),
    "tsr_get_last_error": (c_char_p, []),
    "tsr_result_name": (c_char_p, [_R]),
    "tsr_context_create": (_R, [POINTER(tsr_context_desc), POINTER(tsr_context)]),
    "tsr_context_destroy": (_R, [tsr_context]),
    "tsr_context_get_device_name": (_R, [tsr_context, c_void_p, c_size_t]),
    "tsr_context_get_memory": (_R, [tsr_context, POINTER(tsr_memory_info)]),
    "tsr_model_load": (_R, [tsr_context, POINTER(tsr_model_desc), POINTER(tsr_model)]),
    "tsr_model_destroy": (_R, [tsr_model]),
    "tsr_model_get_info": (_R, [tsr_model, POINTER(tsr_model_info)]),
    "tsr_model_get_class_name": (_R, [tsr_model, c_uint32, c_void_p, c_size_t]),
    "tsr_model_find_class": (_R, [tsr_model, c_char_p, POINTER(c_uint32)]),
    "tsr_generate_submit": (_R, [tsr_context, POINTER(tsr_generate_desc), POINTER(tsr_job)]),
    "tsr_tick": (_R, [tsr_context, c_double, POINTER(tsr_tick_stats)]),
    "tsr_tick_async": (_R, [tsr_context, c_double, POINTER(tsr_tick_stats)]),
    "tsr_job_prepare": (_R, [tsr_job]),
    "tsr_job_get_status": (_R, [tsr_job, POINTER(c_int32)]),
    "tsr_job_get_progress": (_R, [tsr_job, POINTER(c_uint32), POINTER(c_uint32)]),
    "tsr_job_cancel": (_R, [tsr_job]),
    "tsr_job_destroy": (_R, [tsr_job]),
    "tsr_job_read_pixels": (_R, [tsr_job, c_void_p, c_size_t, c_uint32]),
    "tsr_job_read_map": (_R, [tsr_job, c_int32, c_void_p, c_size_t, c_uint32]),
    "tsr_job_read_preview": (_R, [tsr_job, c_void_p, c_size_t, c_uint32]),
    "tsr_job_get_vk_image": (_R, [tsr_job, POINTER(tsr_vk_image)]),
    "tsr_job_get_map_vk_image": (_R, [tsr_job, c_int32, POINTER(tsr_vk_image)]),
    "tsr_job_copy_to_vk_image": (
        _R,
        [tsr_job, POINTER(tsr_vk_image_copy_desc), POINTER(c_uint64), POINTER(c_uint64)],
    ),
}


def _declare(lib: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


# ---- finding and loading the library ---------------------------------------------------------
def _build_candidates() -> List[Path]:
    # plugin/bindings/python/tessera/_native.py -> the source tree's root, where `cmake -B build`
    # puts libtessera.so (docs/plugin.md section 1).
    root = Path(__file__).resolve().parents[4]
    return [root / "build" / "libtessera.so"]


def library_candidates(path: Union[str, os.PathLike, None] = None) -> List[str]:
    """Where :func:`load_library` looks, in order.

    1. ``path``, when given (a file; nothing else is tried).
    2. ``$TESSERA_LIBRARY``, when set (likewise the only one).
    3. ``build/libtessera.so`` of the source tree this package sits in.
    4. ``libtessera.so.1`` through the dynamic linker (``LD_LIBRARY_PATH``, installed libraries).
    """
    if path is not None:
        return [os.fspath(path)]
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return [env]
    return [str(p) for p in _build_candidates() if p.exists()] + ["libtessera.so.1"]


_loaded: Dict[str, ctypes.CDLL] = {}
_lock = threading.Lock()


def load_library(path: Union[str, os.PathLike, None] = None) -> ctypes.CDLL:
    """Loads libtessera (once per path) and declares its functions.

    Raises OSError naming every place tried when none loads, or when the library's version is
    not 1.x with x >= 3 (the header this binding mirrors).
    """
    tried = []
    for candidate in library_candidates(path):
        with _lock:
            lib = _loaded.get(candidate)
            if lib is None:
                try:
                    lib = ctypes.CDLL(candidate)
                except OSError as e:
                    tried.append(f"{candidate} ({e})")
                    continue
                lib.tsr_get_version.restype = c_uint32
                major, minor, patch = split_version(lib.tsr_get_version())
                if major != VERSION_MAJOR or minor < VERSION_MINOR:
                    raise OSError(
                        f"{candidate} is Tessera {major}.{minor}.{patch}; this binding needs "
                        f"{VERSION_MAJOR}.{VERSION_MINOR} or a later {VERSION_MAJOR}.x"
                    )
                _declare(lib)
                _loaded[candidate] = lib
        return lib
    raise OSError("libtessera not found; tried: " + "; ".join(tried) + f" (set ${LIBRARY_ENV} or pass library=)")


def last_error(lib: ctypes.CDLL) -> str:
    """tsr_get_last_error() of the calling thread, decoded."""
    text = lib.tsr_get_last_error()
    return text.decode("utf-8", "replace") if text else ""


def result_name(lib: ctypes.CDLL, result: int) -> str:
    text = lib.tsr_result_name(result)
    return text.decode("ascii", "replace") if text else str(result)


