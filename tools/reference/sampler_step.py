"""One sampler step (tools/reference/samplers.py, float64) on inputs from a safetensors file.

usage: /usr/bin/python3 tools/reference/sampler_step.py IN OUT

IN  tensors (F32, any shape [N, ...]):
      x          x_t
      model_out  the model output at t; [2N, ...] when guided: conditional half, then null half
      z          standard normal noise of the step (optional; zeros)
      x0_last    the previous step's x0 (DPM-Solver++(2M) with t_last >= 0)
      known, zk, keep  optional inpainting blend after the step: known [C, H, W], zk like x,
                 keep [H, W]; x <- x (1 - keep) + keep (a_prev known + b_prev zk)
    metadata (strings): sampler (ddpm | ddim | dpmpp2m), schedule (linear | cosine), T, t,
      t_prev (-1: final step), t_last (-1: none), eta, variance (beta | beta_tilde),
      prediction (eps | v), clip (0 | 1), guided (0 | 1), guidance (w).
    Several cases in one file: metadata "cases" = comma-separated names; then each tensor and
    metadata key above is prefixed "NAME/" (one process for a whole test suite).
OUT F32 tensors x_prev and x0 (prefixed "NAME/" for multi-case files).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import samplers  # noqa: E402


def run_case(tensors, meta, prefix, schedules):
    def m(key, default=None):
        v = meta.get(prefix + key, default)
        if v is None:
            raise KeyError(f"metadata {prefix + key} missing")
        return v

    def tensor(name):
        t = tensors.get(prefix + name)
        return None if t is None else t.to(samplers.DTYPE)

    key = (m("schedule"), int(m("T")))
    if key not in schedules:
        schedules[key] = samplers.Schedule(*key)
    sched = schedules[key]
    x, out = tensor("x"), tensor("model_out")
    uncond = None
    if int(m("guided", "0")):
        n = x.shape[0]
        out, uncond = out[:n], out[n:]
    t_prev = int(m("t_prev"))
    x_prev, x0 = samplers.step(
        x, out, sched, m("sampler"), int(m("t")), t_prev, int(m("t_last", "-1")), tensor("x0_last"), tensor("z"),
        float(m("eta", "0")), m("variance", "beta_tilde"), m("prediction", "eps"), bool(int(m("clip", "1"))),
        float(m("guidance", "1")), uncond)
    if tensor("keep") is not None:
        x_prev = samplers.blend_known(x_prev, tensor("known"), tensor("zk"), tensor("keep"),
                                      sched.alpha_bar(t_prev))
    return {prefix + "x_prev": x_prev.float(), prefix + "x0": x0.float()}


def main(in_path, out_path):
    tensors, meta = safetensors_io.load(in_path)
    names = meta["cases"].split(",") if "cases" in meta else [""]
    schedules, result = {}, {}
    for name in names:
        result.update(run_case(tensors, meta, name + "/" if name else "", schedules))
    safetensors_io.save(out_path, result)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    main(*sys.argv[1:])
