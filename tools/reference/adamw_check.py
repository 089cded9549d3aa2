#!/usr/bin/env python3
"""Ground truth for tests/ops/test_adamw.cpp (TorchAgreement): three steps of gradient
clipping (torch.nn.utils.clip_grad_norm_) + torch.optim.AdamW, with the learning rate and
weight decay changed between steps the way a schedule does. Inputs are closed-form so the
C++ test rebuilds them exactly. Prints the final parameters and optimizer state as C++
initializers to paste into the test.

Usage: python3 tools/reference/adamw_check.py
"""
import math

import torch

N = 7
STEPS = 3
LRS = [1e-2, 5e-3, 2.5e-3]
WEIGHT_DECAY = 0.1
BETAS = (0.9, 0.999)
EPS = 1e-8
MAX_NORM = 1.0


def initial_param(i):
    return math.sin(0.7 * i + 0.3)


def grad(step, i):  # step counts from 1
    return math.cos(1.3 * i + step) * (1.0 + 0.5 * step)


def main():
    p = torch.nn.Parameter(torch.tensor([initial_param(i) for i in range(N)], dtype=torch.float32))
    opt = torch.optim.AdamW([p], lr=LRS[0], betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY, foreach=False)
    for step in range(1, STEPS + 1):
        for group in opt.param_groups:
            group["lr"] = LRS[step - 1]
        p.grad = torch.tensor([grad(step, i) for i in range(N)], dtype=torch.float32)
        torch.nn.utils.clip_grad_norm_([p], MAX_NORM)
        opt.step()
    state = opt.state[p]

    def fmt(name, t):
        return "constexpr double %s[%d] = {%s};" % (name, N, ", ".join("%.9e" % v for v in t.tolist()))

    print("// torch %s, tools/reference/adamw_check.py" % torch.__version__)
    print(fmt("kTorchParam", p.detach()))
    print(fmt("kTorchExpAvg", state["exp_avg"]))
    print(fmt("kTorchExpAvgSq", state["exp_avg_sq"]))


if __name__ == "__main__":
    main()
