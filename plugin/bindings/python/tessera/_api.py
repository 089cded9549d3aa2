"""Context, Model and Job: the C API's handles as Python objects that free themselves.

Every call checks its tsr_result and raises :class:`TesseraError` with the code and
``tsr_get_last_error()``'s text. ``close()`` (or leaving a ``with`` block, or garbage collection)
destroys the handle once; a closed object, or one whose context is closed, raises
:class:`ClosedError` instead of reaching the library.
"""

from __future__ import annotations

import ctypes
import enum
import os
import weakref
from ctypes import byref, c_int32, c_uint32
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native as N

PathLike = Union[str, "os.PathLike[str]"]


class Result(enum.IntEnum):
    """tsr_result."""

    SUCCESS = 0
    NOT_READY = 1
    ERROR_INVALID_ARGUMENT = -1
    ERROR_INVALID_HANDLE = -2
    ERROR_UNKNOWN_CLASS = -3
    ERROR_INVALID_SIZE = -4
    ERROR_INVALID_MODEL = -5
    ERROR_IO = -6
    ERROR_UNSUPPORTED = -7
    ERROR_OUT_OF_MEMORY = -8
    ERROR_BUFFER_TOO_SMALL = -9
    ERROR_JOB_CANCELLED = -10
    ERROR_JOB_FAILED = -11
    ERROR_VULKAN = -12
    ERROR_DEVICE_LOST = -13
    ERROR_INTERNAL = -14


class JobStatus(enum.IntEnum):
    """tsr_job_status."""

    QUEUED = 0
    RUNNING = 1
    DONE = 2
    FAILED = 3
    CANCELLED = 4


class Sampler(enum.IntEnum):
    """tsr_sampler. Also accepted by name as the CLI spells it: "dpmpp2m", "ddim", "ddpm"."""

    DEFAULT = 0
    DPMPP_2M = 1
    DDIM = 2
    DDPM = 3


class Map(enum.IntEnum):
    """tsr_map. Also accepted by its lower-case name: "albedo", "height", "roughness", "normal"."""

    ALBEDO = 0
    HEIGHT = 1
    ROUGHNESS = 2
    NORMAL = 3


class LogLevel(enum.IntEnum):
    """tsr_log_level."""

    INFO = 0
    WARNING = 1
    ERROR = 2


_MAP_NAMES = {m.name.lower(): m for m in Map}
_SAMPLER_NAMES = {"default": Sampler.DEFAULT, "dpmpp2m": Sampler.DPMPP_2M, "ddim": Sampler.DDIM, "ddpm": Sampler.DDPM}
# Channels of each map's array: colour maps (H, W, 3), scalar maps (H, W).
_MAP_CHANNELS = {Map.ALBEDO: 3, Map.HEIGHT: 1, Map.ROUGHNESS: 1, Map.NORMAL: 3}
_FLT_MIN = 1.1754943508222875e-38  # tsr_generate_desc.guidance: a weight of 0 is passed as FLT_MIN
_NORMAL_DIRECTX = 1


class TesseraError(Exception):
    """A tsr_ call failed.

    Attributes:
        code: the :class:`Result` it returned.
        message: ``tsr_get_last_error()`` right after the call (what went wrong, with which value).
        function: the C function, e.g. ``"tsr_model_load"``.
    """

    def __init__(self, code: Result, message: str, function: str = "") -> None:
        self.code = code
        self.message = message
        self.function = function
        where = f"{function}: " if function else ""
        super().__init__(f"{where}TSR_{code.name}: {message}")


class ClosedError(TesseraError, ValueError):
    """The object (or its context) was closed; the handle is gone. Code ERROR_INVALID_HANDLE."""

    def __init__(self, what: str) -> None:
        super().__init__(Result.ERROR_INVALID_HANDLE, f"{what} is closed")


def _check(lib: ctypes.CDLL, function: str, result: int) -> int:
    if result < 0:
        raise TesseraError(Result(result), N.last_error(lib), function)
    return result


def _call(lib: ctypes.CDLL, function: str, *args) -> int:
    """Calls lib.function(*args); raises TesseraError on a negative tsr_result, returns the rest."""
    return _check(lib, function, getattr(lib, function)(*args))


def _by_name(value, enum_type, names: Dict[str, enum.IntEnum]):
    """A member of enum_type from itself, its value, or its name as ``names`` spells it."""
    if not isinstance(value, str):
        return enum_type(value)
    try:
        return names[value.lower()]
    except KeyError:
        raise ValueError(f"unknown {enum_type.__name__.lower()} {value!r} ({', '.join(names)})") from None


def _as_map(m: Union[Map, str, int]) -> Map:
    return _by_name(m, Map, _MAP_NAMES)


def _as_sampler(s: Union[Sampler, str, int]) -> Sampler:
    return _by_name(s, Sampler, _SAMPLER_NAMES)


def _unsigned(name: str, value: int, bits: int) -> int:
    """An integer for a uint field: ctypes would wrap a negative or too large one silently."""
    v = int(value)
    if v != value or not 0 <= v < 1 << bits:
        raise ValueError(f"{name} {value!r} is not an integer in [0, 2^{bits})")
    return v


def _read_string(lib: ctypes.CDLL, function: str, *args) -> str:
    buf = ctypes.create_string_buffer(1024)
    _call(lib, function, *args, buf, len(buf))
    return buf.value.decode("utf-8", "replace")


@dataclass(frozen=True)
class ModelInfo:
    """tsr_model_info. ``maps`` lists what the model's jobs give (``map_mask``), in Map order."""

    class_count: int
    train_resolution: int
    size_multiple: int
    parameter_count: int
    maps: Tuple[Map, ...]


@dataclass(frozen=True)
class TickStats:
    """tsr_tick_stats."""

    steps_run: int
    jobs_finished: int
    jobs_pending: int
    gpu_ms: float
    max_step_ms: float
    steps_submitted: int
    busy: bool


@dataclass(frozen=True)
class MemoryInfo:
    """tsr_memory_info: device bytes this context holds, and the device-local heaps' size."""

    device_bytes_in_use: int
    device_local_heap_bytes: int


class _Handle:
    """One C handle, destroyed once by close(), by a ``with`` block's end or by the collector."""

    _kind = "handle"

    def __init__(self, lib: ctypes.CDLL, handle, destroy: str, parent: Optional["_Handle"]) -> None:
        self._lib = lib
        self._raw = handle
        self._parent = parent
        # The finalizer holds what destroy needs (not self), so collection can run it; its
        # extra arguments keep callbacks alive until the handle is gone.
        self._finalizer = weakref.finalize(self, _destroy, lib, destroy, handle, parent, *self._keep_alive())

    def _keep_alive(self) -> tuple:
        return ()

    @property
    def closed(self) -> bool:
        """True once this object or its context is closed."""
        return not self._finalizer.alive or (self._parent is not None and self._parent.closed)

    def _h(self):
        if self.closed:
            raise ClosedError(self._kind if not self._finalizer.alive else f"the context of this {self._kind}")
        return self._raw

    def close(self) -> None:
        """Destroys the handle. Closing again, or after the context was closed, does nothing."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<tessera.{type(self).__name__} {'closed' if self.closed else hex(self._raw.id)}>"


def _destroy(lib: ctypes.CDLL, function: str, handle, parent: Optional[_Handle], *keep_alive) -> None:
    # A context's destruction already destroyed its models and jobs.
    if parent is not None and parent.closed:
        return
    _call(lib, function, handle)


class Context(_Handle):
    """A Tessera context on its own Vulkan device (tsr_context_create).

    Args:
        device: the device to use, an index ("1") or a name substring ("nvidia"); None =
            ``$TESSERA_DEVICE``, else the best device type.
        pipeline_cache_dir: where compiled pipelines are cached; None = ``$TESSERA_PIPELINE_CACHE``
            or ``~/.cache/tessera``; "none" = off.
        validation: enable the Vulkan validation layer (also ``TESSERA_VALIDATION=1``).
        portable: portable mode (docs/portable.md, library 1.4): the same bits on every
            conformant device, at some cost in speed; False = the device's fastest kernels.
        log: called with (LogLevel, message) for the context's messages (which device was chosen,
            validation output); None = stderr. Called on the thread of the call that logs, with
            the context locked: it must not call into Tessera.
        library: libtessera.so to use; None = :func:`tessera.load_library`'s search.

    Contexts on a host's own VkDevice (tsr_vulkan_device) are not wrapped: use the C API.
    """

    _kind = "Context"

    def __init__(
        self,
        *,
        device: Optional[str] = None,
        pipeline_cache_dir: Optional[PathLike] = None,
        validation: bool = False,
        portable: bool = False,
        log: Optional[Callable[[LogLevel, str], None]] = None,
        library: Optional[PathLike] = None,
    ) -> None:
        lib = N.load_library(library)
        desc = N.new_struct(N.tsr_context_desc)
        desc.flags = 1 if validation else 0
        # Left 0 (the default) unless asked, so that a 1.3 library, which does not know the
        # field, still accepts the desc (its unknown tail must be zero).
        desc.arithmetic = N.ARITHMETIC_PORTABLE if portable else 0
        desc.device = device.encode() if device is not None else None
        desc.pipeline_cache_dir = os.fsencode(pipeline_cache_dir) if pipeline_cache_dir is not None else None
        self._log = None
        if log is not None:
            self._log = N.tsr_log_fn(
                lambda user, level, message: log(LogLevel(level), message.decode("utf-8", "replace"))
            )
            desc.log = self._log
        handle = N.tsr_context()
        _call(lib, "tsr_context_create", byref(desc), byref(handle))
        super().__init__(lib, handle, "tsr_context_destroy", None)

    def _keep_alive(self) -> tuple:
        return (self._log,)  # the library may log until tsr_context_destroy returns

    @property
    def device_name(self) -> str:
        """The device in use, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"."""
        return _read_string(self._lib, "tsr_context_get_device_name", self._h())

    @property
    def memory(self) -> MemoryInfo:
        """tsr_context_get_memory: device memory this context holds now."""
        info = N.new_struct(N.tsr_memory_info)
        _call(self._lib, "tsr_context_get_memory", self._h(), byref(info))
        return MemoryInfo(info.device_bytes_in_use, info.device_local_heap_bytes)

    def load_model(self, source: Union[PathLike, bytes, bytearray, memoryview]) -> "Model":
        """Loads a .safetensors model from a path, or from the file's bytes (copied by the call)."""
        desc = N.new_struct(N.tsr_model_desc)
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = (ctypes.c_char * len(source)).from_buffer_copy(source)
            desc.data = ctypes.cast(data, ctypes.c_void_p)
            desc.data_size = len(source)
        else:
            desc.path = os.fsencode(source)
        handle = N.tsr_model()
        _call(self._lib, "tsr_model_load", self._h(), byref(desc), byref(handle))
        return Model(self, handle)

    def submit(
        self,
        model: "Model",
        *,
        class_name: Union[str, int, None] = None,
        seed: int = 0,
        width: int = 0,
        height: int = 0,
        sampler: Union[Sampler, str] = Sampler.DEFAULT,
        steps: int = 0,
        guidance: float = 1.0,
        eta: float = 0.0,
        init: Optional[np.ndarray] = None,
        strength: float = 0.0,
        mask: Optional[np.ndarray] = None,
        max_step_gflop: float = 0.0,
        normal_strength: float = 0.0,
        normal_convention: str = "opengl",
    ) -> "Job":
        """Queues a generation and returns its Job at once (tsr_generate_submit); ticks run it.

        Args:
            model: a Model of this context.
            class_name: a class name, or its index (int or decimal string); None = class 0.
            seed: same seed, model, options and device give the same bytes.
            width, height: output size, multiples of ``model.info.size_multiple``; 0 = the
                model's training resolution (or, with ``init``, the init image's size).
            sampler: Sampler or "dpmpp2m" (default), "ddim", "ddpm".
            steps: sampler steps; 0 = 25.
            guidance: classifier-free guidance weight in [0, 100]; 1 = off.
            eta: DDIM noise in [0, 1].
            init: img2img / inpainting input, uint8 (H, W, 4) RGBA or (H, W, 3) RGB.
            strength: img2img strength in [0, 1]; 0 re-runs nothing (see tessera.h).
            mask: inpainting mask, uint8 (H, W): 255 = generate, 0 = keep ``init``'s pixel.
            max_step_gflop: most work one step may be; 0 = the device type's default, inf = none.
            normal_strength: models with height: the normal map's height range in texels; 0 = 3.
            normal_convention: "opengl" (+Y up) or "directx" (+Y down).

        Every value is checked by the library; a refusal raises TesseraError naming it.
        """
        if normal_convention not in ("opengl", "directx"):
            raise ValueError(f"normal_convention must be 'opengl' or 'directx', got {normal_convention!r}")
        desc = N.new_struct(N.tsr_generate_desc)
        desc.model = model._h()
        if isinstance(class_name, (int, np.integer)) and not isinstance(class_name, bool):
            desc.class_index = _unsigned("class_name", class_name, 32)
        elif class_name is not None:
            desc.class_name = str(class_name).encode()
        desc.seed = _unsigned("seed", seed, 64)
        desc.sampler = _as_sampler(sampler)
        desc.steps = _unsigned("steps", steps, 32)
        desc.guidance = _FLT_MIN if guidance == 0 else guidance
        desc.eta = eta
        desc.strength = strength
        desc.max_step_gflop = max_step_gflop
        desc.normal_strength = normal_strength
        desc.normal_flags = _NORMAL_DIRECTX if normal_convention == "directx" else 0
        keep = []  # arrays the desc points into, alive until the call returns (it copies them)
        if init is not None:
            rgba = _rgba(init, "init")
            keep.append(rgba)
            desc.init_rgba, desc.init_rgba_size = rgba.ctypes.data, rgba.nbytes
            height, width = height or rgba.shape[0], width or rgba.shape[1]
        if mask is not None:
            m = np.ascontiguousarray(mask, dtype=np.uint8)
            if m.ndim != 2:
                raise ValueError(f"mask must be a (H, W) uint8 array, got shape {m.shape}")
            keep.append(m)
            desc.mask, desc.mask_size = m.ctypes.data, m.nbytes
        desc.width, desc.height = _unsigned("width", width, 32), _unsigned("height", height, 32)
        info = model.info
        handle = N.tsr_job()
        _call(self._lib, "tsr_generate_submit", self._h(), byref(desc), byref(handle))
        return Job(self, handle, width or info.train_resolution, height or info.train_resolution, info.maps)

    def tick(self, budget_ms: float) -> TickStats:
        """tsr_tick: runs whole sampler steps of the queued jobs within budget_ms (> 0) of GPU time."""
        return self._tick("tsr_tick", budget_ms)

    def tick_async(self, budget_ms: float) -> TickStats:
        """tsr_tick_async: submits the steps that fit budget_ms and returns; the next tick collects them."""
        return self._tick("tsr_tick_async", budget_ms)

    def _tick(self, function: str, budget_ms: float) -> TickStats:
        s = N.new_struct(N.tsr_tick_stats)
        _call(self._lib, function, self._h(), budget_ms, byref(s))
        return TickStats(
            s.steps_run, s.jobs_finished, s.jobs_pending, s.gpu_ms, s.max_step_ms, s.steps_submitted, bool(s.busy)
        )

    def generate(
        self, model: "Model", maps: Optional[Iterable[Union[Map, str]]] = None, **options
    ) -> Dict[str, np.ndarray]:
        """Generates one image and returns its maps as numpy arrays, keyed by map name.

        ``options`` are :meth:`submit`'s. ``maps`` picks which to return (default: every map the
        model gives, ``model.info.maps``). Shapes and dtypes (H, W the output size):

        - "albedo": (H, W, 3) uint8, sRGB colour.
        - "height": (H, W) uint8, [0, 1] as round(v * 255): the C API gives heights in 8 bits.
        - "roughness": (H, W) uint8, likewise.
        - "normal": (H, W, 3) uint8, round((n * 0.5 + 0.5) * 255); flat = (128, 128, 255).

        Blocks until the job is done (ticking this context, so other queued jobs advance too).
        """
        wanted = None if maps is None else [_as_map(m) for m in maps]
        with self.submit(model, **options) as job:
            job.wait()
            return job.read_maps(wanted)


def _rgba(image: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"{name} must be a (H, W, 4) or (H, W, 3) uint8 array, got {a.dtype} {a.shape}")
    if a.shape[2] == 3:
        a = np.concatenate([a, np.full(a.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(a)


class Model(_Handle):
    """A loaded model (tsr_model_load via :meth:`Context.load_model`).

    Closing it frees its weights once the jobs already submitted with it are destroyed.
    """

    _kind = "Model"

    def __init__(self, context: Context, handle) -> None:
        super().__init__(context._lib, handle, "tsr_model_destroy", context)
        self.context = context

    @property
    def info(self) -> ModelInfo:
        """tsr_model_get_info."""
        i = N.new_struct(N.tsr_model_info)
        _call(self._lib, "tsr_model_get_info", self._h(), byref(i))
        maps = tuple(m for m in Map if i.map_mask & (1 << m))
        return ModelInfo(i.class_count, i.train_resolution, i.size_multiple, i.parameter_count, maps)

    @property
    def class_names(self) -> List[str]:
        """The class names, in index order; [] for an unconditional model."""
        return [_read_string(self._lib, "tsr_model_get_class_name", self._h(), i) for i in range(self.info.class_count)]

    def find_class(self, name_or_index: Union[str, int]) -> int:
        """tsr_model_find_class: the index a class name or decimal index names (a name wins)."""
        index = c_uint32()
        _call(self._lib, "tsr_model_find_class", self._h(), str(name_or_index).encode(), byref(index))
        return index.value

    def submit(self, **options) -> "Job":
        """``self.context.submit(self, **options)``."""
        return self.context.submit(self, **options)

    def generate(self, maps: Optional[Iterable[Union[Map, str]]] = None, **options) -> Dict[str, np.ndarray]:
        """``self.context.generate(self, maps, **options)``."""
        return self.context.generate(self, maps, **options)


class Job(_Handle):
    """A queued generation (:meth:`Context.submit`). Ticks advance it; read its maps when done.

    Attributes:
        width, height: the size of its images.
        maps: the maps it gives (its model's ``info.maps``).
    """

    _kind = "Job"

    def __init__(self, context: Context, handle, width: int, height: int, maps: Tuple[Map, ...]) -> None:
        super().__init__(context._lib, handle, "tsr_job_destroy", context)
        self.context = context
        self.width = width
        self.height = height
        self.maps = maps

    @property
    def status(self) -> JobStatus:
        s = c_int32()
        _call(self._lib, "tsr_job_get_status", self._h(), byref(s))
        return JobStatus(s.value)

    @property
    def pending(self) -> bool:
        """Queued or running: more ticks are needed."""
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)

    @property
    def progress(self) -> Tuple[int, int]:
        """(steps done, steps total)."""
        done, total = c_uint32(), c_uint32()
        _call(self._lib, "tsr_job_get_progress", self._h(), byref(done), byref(total))
        return done.value, total.value

    def prepare(self) -> None:
        """tsr_job_prepare: builds the job's sampler now (e.g. on a loading thread)."""
        _call(self._lib, "tsr_job_prepare", self._h())

    def cancel(self) -> None:
        """tsr_job_cancel: stops a queued or running job; a finished job is left as it is."""
        _call(self._lib, "tsr_job_cancel", self._h())

    def wait(self, budget_ms: float = 1e9, max_ticks: int = 100000) -> None:
        """Ticks the context (tsr_tick, budget_ms per tick) until this job is no longer pending.

        A failed or cancelled job is not an error here; reading its maps raises.
        """
        for _ in range(max_ticks):
            if not self.pending:
                return
            self.context.tick(budget_ms)
        raise TimeoutError(f"job still {self.status.name} after {max_ticks} ticks")

    def read_rgba(self, map: Union[Map, str] = Map.ALBEDO) -> np.ndarray:
        """One map as the C API gives it: (H, W, 4) uint8 RGBA, alpha 255, grey maps in R = G = B.

        Raises TesseraError NOT_READY while the job runs, JOB_FAILED / JOB_CANCELLED, or
        INVALID_ARGUMENT for a map the model lacks.
        """
        m = _as_map(map)
        out = np.empty((self.height, self.width, 4), np.uint8)
        r = _call(self._lib, "tsr_job_read_map", self._h(), m, out.ctypes.data, out.nbytes, 0)
        if r == Result.NOT_READY:
            message = f"the job is {self.status.name}: tick until it is done"
            raise TesseraError(Result.NOT_READY, message, "tsr_job_read_map")
        return out

    def read_map(self, map: Union[Map, str] = Map.ALBEDO) -> np.ndarray:
        """One map in the shape :meth:`Context.generate` documents ((H, W, 3) or (H, W) uint8)."""
        m = _as_map(map)
        rgba = self.read_rgba(m)
        return np.ascontiguousarray(rgba[..., :3] if _MAP_CHANNELS[m] == 3 else rgba[..., 0])

    def read_maps(self, maps: Optional[Sequence[Union[Map, str]]] = None) -> Dict[str, np.ndarray]:
        """:meth:`read_map` of each of ``maps`` (default: all the job gives), keyed by map name."""
        chosen = self.maps if maps is None else [_as_map(m) for m in maps]
        return {m.name.lower(): self.read_map(m) for m in chosen}

    def read_preview(self) -> Optional[np.ndarray]:
        """The current estimate of the albedo, (H, W, 3) uint8; None before the first step."""
        out = np.empty((self.height, self.width, 4), np.uint8)
        r = _call(self._lib, "tsr_job_read_preview", self._h(), out.ctypes.data, out.nbytes, 0)
        return None if r == Result.NOT_READY else np.ascontiguousarray(out[..., :3])


def version(library: Optional[PathLike] = None) -> Tuple[int, int, int]:
    """The library's (major, minor, patch)."""
    return N.split_version(N.load_library(library).tsr_get_version())
