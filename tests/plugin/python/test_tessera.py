"""Tests of the Python binding (plugin/bindings/python/tessera), run by the gtest
PluginPython.BindingTestsPass (tests/plugin/test_plugin_python.cpp) with /usr/bin/python3:

    TESSERA_LIBRARY=build/libtessera.so PYTHONPATH=plugin/bindings/python \\
      /usr/bin/python3 tests/plugin/python/test_tessera.py -v

The gtest sets the TESSERA_TEST_* variables below (models, the C API's bytes, the C struct
sizes, the CLI); a test whose input is not set is skipped, and the gtest fails on any skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import os
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import numpy as np

import tessera
from tessera import _native as N
from tessera import cli

ENV = os.environ.get


def need(name: str) -> str:
    value = ENV(name)
    if not value:
        raise unittest.SkipTest(f"${name} not set (tests/plugin/test_plugin_python.cpp sets it)")
    return value


def read_png(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.array(im)


class Collector:
    """A log callback that keeps every message; validation output fails the test."""

    def __init__(self):
        self.messages = []

    def __call__(self, level, message):
        self.messages.append((level, message))

    def validation_messages(self):
        return [m for level, m in self.messages if "vulkan validation" in m]


class BindingTest(unittest.TestCase):
    """One context for the whole class (a context costs about a second on lavapipe)."""

    @classmethod
    def setUpClass(cls):
        cls.log = Collector()
        cls.ctx = tessera.Context(log=cls.log)
        cls.model = cls.ctx.load_model(need("TESSERA_TEST_MODEL"))  # classes stone, wood; 16 px

    @classmethod
    def tearDownClass(cls):
        cls.ctx.close()

    def tearDown(self):
        self.assertEqual(self.log.validation_messages(), [])

    # ---- layout and library ------------------------------------------------------------------
    def test_struct_layout_matches_the_header(self):
        sizes = dict(item.split("=") for item in need("TESSERA_TEST_STRUCT_SIZES").split(","))
        self.assertEqual(len(sizes), len(N.STRUCTS))
        for struct in N.STRUCTS:
            self.assertEqual(ctypes.sizeof(struct), int(sizes[struct.__name__]), struct.__name__)

    def test_library_search_order(self):
        library = need("TESSERA_LIBRARY")
        os.environ[tessera.LIBRARY_ENV] = "/from/env/libtessera.so"
        try:
            self.assertEqual(tessera.library_candidates("/explicit.so"), ["/explicit.so"])
            self.assertEqual(tessera.library_candidates(), ["/from/env/libtessera.so"])
            with self.assertRaises(OSError) as e:
                tessera.Context()
            self.assertIn("/from/env/libtessera.so", str(e.exception))
        finally:
            os.environ[tessera.LIBRARY_ENV] = library
        with self.assertRaises(OSError) as e:
            tessera.load_library("/no/such/libtessera.so")
        self.assertIn("/no/such/libtessera.so", str(e.exception))
        self.assertGreaterEqual(tessera.version()[:2], (1, 3))

    # ---- generation --------------------------------------------------------------------------
    def test_portable_context_gives_the_c_api_portable_bytes(self):
        expected = np.fromfile(need("TESSERA_TEST_CAPI_PORTABLE_PIXELS"), np.uint8).reshape(16, 16, 4)
        for portable in (False, True):  # the library says which arithmetic it took
            log = []
            tessera.Context(portable=portable, log=lambda level, text: log.append(text)).close()
            self.assertEqual(any("portable arithmetic" in m for m in log), portable, log)
        with tessera.Context(portable=True) as ctx, ctx.load_model(need("TESSERA_TEST_MODEL")) as model:
            job = model.submit(class_name="wood", seed=77, steps=3)
            job.wait()
            rgba = job.read_rgba()
        np.testing.assert_array_equal(rgba, expected)

    def test_generate_gives_the_c_api_bytes(self):
        expected = np.fromfile(need("TESSERA_TEST_CAPI_PIXELS"), np.uint8).reshape(16, 16, 4)
        maps = self.model.generate(class_name="wood", seed=77, steps=3)
        self.assertEqual(list(maps), ["albedo"])
        self.assertEqual(maps["albedo"].dtype, np.uint8)
        self.assertEqual(maps["albedo"].shape, (16, 16, 3))
        np.testing.assert_array_equal(maps["albedo"], expected[..., :3])
        # The class as an index, and the job API step by step: the same bytes.
        with self.ctx.submit(self.model, class_name=1, seed=77, steps=3) as job:
            self.assertIsNone(job.read_preview(), "no preview before the first step")
            job.prepare()
            self.ctx.tick(1e-3)  # a tiny budget still runs one step
            self.assertEqual(job.progress, (1, 3))
            job.wait(budget_ms=1e-3)
            self.assertEqual(job.status, tessera.JobStatus.DONE)
            np.testing.assert_array_equal(job.read_rgba("albedo"), expected)
            np.testing.assert_array_equal(job.read_preview(), expected[..., :3])
        # Non-blocking ticks (tsr_tick_async): submitted, collected by a later tick.
        with self.model.submit(class_name="wood", seed=77, steps=3) as job:
            submitted, deadline = 0, time.monotonic() + 300  # a hang detector only
            while job.pending and time.monotonic() < deadline:
                submitted += self.ctx.tick_async(1e9).steps_submitted
                time.sleep(0.002)  # the rest of a frame, while the GPU works
            self.assertGreater(submitted, 0, "tick_async left steps running")
            np.testing.assert_array_equal(job.read_rgba(), expected)

    def test_every_map_of_a_material_model(self):
        with self.ctx.load_model(need("TESSERA_TEST_MATERIAL_MODEL")) as model:
            self.assertEqual([m.name for m in model.info.maps], ["ALBEDO", "HEIGHT", "ROUGHNESS", "NORMAL"])
            self.assertEqual(model.class_names, ["stone", "wood"])
            gl = model.generate(seed=5, steps=2, width=8, height=12)
            shapes = {k: (v.shape, v.dtype) for k, v in gl.items()}
            u8 = np.dtype(np.uint8)
            self.assertEqual(shapes, {"albedo": ((12, 8, 3), u8), "height": ((12, 8), u8),
                                      "roughness": ((12, 8), u8), "normal": ((12, 8, 3), u8)})
            with model.submit(seed=5, steps=2, width=8, height=12) as job:
                job.wait()
                for name, array in gl.items():
                    rgba = job.read_rgba(name)
                    np.testing.assert_array_equal(rgba[..., 3], 255)
                    if array.ndim == 2:
                        np.testing.assert_array_equal(rgba[..., 1], array, err_msg=f"{name} is grey")
            self.assertGreater(gl["normal"][..., 2].mean(), 128, "normals point out of the surface")
            # The options reach the normals pass: DirectX flips green; a steeper relief tilts more.
            dx = model.generate(["normal", "height"], seed=5, steps=2, width=8, height=12, normal_convention="directx")
            self.assertEqual(list(dx), ["normal", "height"])
            np.testing.assert_array_equal(dx["height"], gl["height"])
            np.testing.assert_array_equal(dx["normal"][..., 0], gl["normal"][..., 0])
            flipped = gl["normal"][..., 1].astype(int) + dx["normal"][..., 1].astype(int)
            self.assertLessEqual(np.abs(flipped - 255).max(), 1, "green is 255 - green (rounding aside)")
            steep = model.generate(["normal"], seed=5, steps=2, width=8, height=12, normal_strength=30)
            self.assertLess(steep["normal"][..., 2].mean(), gl["normal"][..., 2].mean())

    def test_bundled_material_model_matches_the_cli(self):
        """generate() and `python3 -m tessera sample` against `tessera sample`, every map."""
        model_path, tessera_cli = need("TESSERA_TEST_BUNDLED_MATERIAL"), need("TESSERA_TEST_CLI")
        request = ["--model", model_path, "--class", "dirt", "--seed", "3", "--steps", "2", "--size", "32x32"]
        with tempfile.TemporaryDirectory() as out:
            runs = (("cli", [tessera_cli, "sample"]), ("py", [sys.executable, "-m", "tessera", "sample"]))
            for name, command in runs:
                r = subprocess.run(command + request + ["--out", f"{out}/{name}.png"], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, f"{command}: {r.stdout}{r.stderr}")
                map_names = ("albedo", "height", "roughness", "normal")
                self.assertEqual(r.stdout.split(), [f"{out}/{name}_{m}.png" for m in map_names])
            with self.ctx.load_model(model_path) as model:
                maps = model.generate(class_name="dirt", seed=3, steps=2, width=32, height=32)
            for m in ("albedo", "roughness", "normal"):
                expected = read_png(f"{out}/cli_{m}.png")
                np.testing.assert_array_equal(read_png(f"{out}/py_{m}.png"), expected, err_msg=m)
                np.testing.assert_array_equal(maps[m], expected, err_msg=m)
            # Height: the CLI writes round(v * 65535), the C API gives round(v * 255); the binding
            # writes that as v8 * 257 in a 16-bit file. They differ by at most half an 8-bit step
            # (128.5) plus the 16-bit rounding (0.5).
            cli16, py16 = read_png(f"{out}/cli_height.png").astype(int), read_png(f"{out}/py_height.png").astype(int)
            self.assertEqual(py16.shape, (32, 32))
            np.testing.assert_array_equal(py16, maps["height"].astype(int) * 257)
            self.assertLessEqual(np.abs(py16 - cli16).max(), 129)
            self.assertGreater(cli16.std(), 257, "the height varies (the comparison is not trivial)")

    # ---- errors ------------------------------------------------------------------------------
    def assertTesseraError(self, code, text, call, *args, **kwargs):
        with self.assertRaises(tessera.TesseraError) as e:
            call(*args, **kwargs)
        self.assertEqual(e.exception.code, code, str(e.exception))
        self.assertIn(text, e.exception.message)
        self.assertIn(text, str(e.exception))
        return e.exception

    def test_errors_carry_the_code_and_the_last_error(self):
        e = self.assertTesseraError(tessera.Result.ERROR_IO, "/no/such/model.safetensors",
                                    self.ctx.load_model, "/no/such/model.safetensors")
        self.assertEqual(e.function, "tsr_model_load")
        self.assertTesseraError(tessera.Result.ERROR_INVALID_MODEL, "", self.ctx.load_model, b"not a model")
        e = self.assertTesseraError(tessera.Result.ERROR_UNKNOWN_CLASS, "wood", self.model.generate, class_name="oak")
        self.assertIn("oak", e.message)
        self.assertTesseraError(tessera.Result.ERROR_INVALID_SIZE, "15", self.model.generate, width=15, steps=1)
        self.assertTesseraError(tessera.Result.ERROR_INVALID_ARGUMENT, "steps", self.model.generate, steps=100000)
        with self.model.submit(steps=1) as job:
            self.assertTesseraError(tessera.Result.NOT_READY, "QUEUED", job.read_map)
            job.wait()
            self.assertTesseraError(tessera.Result.ERROR_INVALID_ARGUMENT, "height", job.read_map, "height")
        with self.model.submit(steps=2) as job:
            job.cancel()
            self.assertEqual(job.status, tessera.JobStatus.CANCELLED)
            self.assertTesseraError(tessera.Result.ERROR_JOB_CANCELLED, "", job.read_map)
        with self.assertRaises(ValueError):
            self.model.generate(sampler="euler")
        for field in ("seed", "steps", "width"):
            with self.assertRaises(ValueError) as e:  # ctypes would pass 2^64 - 1
                self.model.submit(**{field: -1})
            self.assertIn(f"{field} -1", str(e.exception))
        with self.assertRaises(ValueError):
            self.model.generate(init=np.zeros((16, 16), np.uint8))

    def test_closed_objects_raise(self):
        model = self.ctx.load_model(need("TESSERA_TEST_MODEL"))
        model.close()
        model.close()  # idempotent
        self.assertTrue(model.closed)
        with self.assertRaises(tessera.ClosedError) as e:
            model.info
        self.assertEqual(e.exception.code, tessera.Result.ERROR_INVALID_HANDLE)
        self.assertIn("Model is closed", str(e.exception))
        with self.assertRaises(tessera.ClosedError):
            self.ctx.submit(model)
        with tessera.Context() as ctx:
            m = ctx.load_model(need("TESSERA_TEST_MODEL"))
            job = m.submit(steps=1)
        self.assertTrue(ctx.closed and m.closed and job.closed)
        for call in (lambda: ctx.device_name, lambda: m.generate(), lambda: job.status, lambda: ctx.tick(1)):
            with self.assertRaises(tessera.ClosedError) as e:
                call()
            self.assertIn("closed", str(e.exception))
        job.close()  # after its context: nothing to do
        m.close()

    # ---- handles are freed ---------------------------------------------------------------------
    def raw_status(self, function, handle, out_struct=None):
        """Calls the C function on a raw handle, bypassing the wrapper's closed check."""
        lib = self.ctx._lib
        if out_struct is None:
            return getattr(lib, function)(handle, ctypes.byref(ctypes.c_int32()))
        return getattr(lib, function)(handle, ctypes.byref(N.new_struct(out_struct)))

    def test_close_and_with_destroy_the_handles(self):
        base = self.ctx.memory.device_bytes_in_use
        with self.ctx.load_model(need("TESSERA_TEST_MODEL")) as model:
            raw_model = model._raw
            loaded = self.ctx.memory.device_bytes_in_use
            self.assertGreater(loaded, base, "the weights are on the device")
            with model.submit(steps=1) as job:
                raw_job = job._raw
                job.wait()
            self.assertEqual(self.raw_status("tsr_job_get_status", raw_job), tessera.Result.ERROR_INVALID_HANDLE)
            self.assertEqual(self.ctx.memory.device_bytes_in_use, loaded)
            model.generate(steps=1)  # generate() destroys its job too
            self.assertEqual(self.ctx.memory.device_bytes_in_use, loaded)
        self.assertEqual(self.raw_status("tsr_model_get_info", raw_model, N.tsr_model_info),
                         tessera.Result.ERROR_INVALID_HANDLE)
        self.assertEqual(self.ctx.memory.device_bytes_in_use, base)
        # An object nobody closed is destroyed when collected.
        model = self.ctx.load_model(need("TESSERA_TEST_MODEL"))
        raw_model = model._raw
        del model
        gc.collect()
        self.assertEqual(self.raw_status("tsr_model_get_info", raw_model, N.tsr_model_info),
                         tessera.Result.ERROR_INVALID_HANDLE)
        self.assertEqual(self.ctx.memory.device_bytes_in_use, base)
        # A context's handle too, with the ones it owned.
        with tessera.Context() as ctx:
            raw_ctx = ctx._raw
        self.assertEqual(self.raw_status("tsr_context_get_memory", raw_ctx, N.tsr_memory_info),
                         tessera.Result.ERROR_INVALID_HANDLE)

    def test_log_and_device(self):
        self.assertTrue(self.ctx.device_name)
        self.assertTrue(any(level == tessera.LogLevel.INFO for level, _ in self.log.messages), self.log.messages)
        stats = self.ctx.tick(1.0)  # nothing queued
        self.assertEqual((stats.steps_run, stats.jobs_pending), (0, 0))

    # ---- python3 -m tessera sample -----------------------------------------------------------
    def run_cli(self, *args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["sample", "--model", need("TESSERA_TEST_MODEL"), *args])
        return status, out.getvalue(), err.getvalue()

    def test_cli_writes_what_generate_gives_and_refuses_bad_options(self):
        with tempfile.TemporaryDirectory() as out:
            status, stdout, err = self.run_cli("--class", "all", "--count", "2", "--seed", "76", "--steps", "3",
                                               "--out", f"{out}/{{class}}-{{seed}}.png")
            self.assertEqual(status, 0, err)
            names = [f"{out}/{c}-{s}.png" for c in ("stone", "wood") for s in (76, 77)]
            self.assertEqual(stdout.split(), names)
            expected = np.fromfile(need("TESSERA_TEST_CAPI_PIXELS"), np.uint8).reshape(16, 16, 4)
            np.testing.assert_array_equal(read_png(f"{out}/wood-77.png"), expected)  # RGBA, as the CLI
            self.assertEqual(sorted(os.listdir(out)), sorted(Path(n).name for n in names), "no temporary left")
            for args, message in (
                (["--class", "oak"], "--class: "),
                (["--size", "16"], "--size: expected WxH"),
                (["--size", "15x16"], "15"),
                (["--maps", "height"], "--maps: 'height' is not a map of this model; it gives: albedo"),
                (["--eta", "0.5"], "--eta is the ddim sampler's noise"),
                (["--out", f"{out}/missing/x.png"], "does not exist"),
                (["--class", "all", "--out", f"{out}/{{seed}}.png"], "the same path"),
            ):
                status, _, err = self.run_cli("--steps", "1", *args)
                self.assertEqual(status, 1, args)
                self.assertIn(message, err, args)
                self.assertTrue(err.splitlines()[-1].startswith("tessera sample: error: "), err)


if __name__ == "__main__":
    unittest.main()
