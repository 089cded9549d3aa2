"""Whole-U-Net reference for Tessera's tests: forward and backward in float64.

usage: /usr/bin/python3 tools/reference/check_unet.py MODEL INPUTS OUT

MODEL  Tessera model file (weights + tessera.config metadata)
INPUTS safetensors with x [N,C,H,W] F32, t [N] F32, dout [N,C',H,W] F32 and, for class-
       conditional models, labels [N] I32
OUT    written: output [N,C',H,W] F64, input_grad F64, and "grad/<param>" F64 for every
       parameter: the gradients of sum(output * dout).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import unet  # noqa: E402


def main(model_path, inputs_path, out_path):
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model, _, _ = unet.load_model(model_path)
    model = model.double()
    inputs, _ = safetensors_io.load(inputs_path)
    x = inputs["x"].double().requires_grad_(True)
    labels = inputs["labels"].long() if "labels" in inputs else None
    out = model(x, inputs["t"].double(), labels)
    out.backward(inputs["dout"].double())
    result = {"output": out.detach(), "input_grad": x.grad}
    for name, p in model.named_parameters():
        result["grad/" + name] = p.grad if p.grad is not None else torch.zeros_like(p)
    safetensors_io.save(out_path, result)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
