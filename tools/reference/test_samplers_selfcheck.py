"""Self-checks of tools/reference/samplers.py against closed forms (no Tessera involved).

usage: /usr/bin/python3 tools/reference/test_samplers_selfcheck.py     (exit 0 = all passed, ~10 s)

Data x0 ~ N(mu, s2 I) has an exact denoiser (samplers.gaussian_denoiser), so:
  - the probability-flow ODE has a closed-form endpoint: along it (x/a - mu) / sqrt(s2 + b^2/a^2)
    is constant, so x_0 = mu + (x_T/a_T - mu) sqrt(s2 / (s2 + b_T^2/a_T^2));
    DDIM(eta = 0) and DPM-Solver++(2M) at many steps must land on it, at first / second order;
  - ancestral sampling (DDPM beta / beta-tilde, DDIM eta = 1) must reproduce mean mu, variance s2.
Identities between the papers' formulas: DDIM(eta = 1) is the DDPM posterior with beta-tilde;
DPM-Solver++(1) (first step, no history) is DDIM(eta = 0) (Lu et al. 2022).
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import samplers as S  # noqa: E402

MU, S2 = 0.3, 0.25
FAILURES = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILURES.append(what)


def flow_error(sched, sampler, steps, prediction="eps", lower_order_final=True):
    g = torch.Generator().manual_seed(0)
    x_T = torch.randn(2, 3, 8, 8, generator=g, dtype=S.DTYPE)
    ab_s = sched.alpha_bar(S.timesteps(sched.T, steps)[0])  # the start noise is x at the first timestep
    exact = MU + (x_T / math.sqrt(ab_s) - MU) * math.sqrt(S2 / (S2 + (1 - ab_s) / ab_s))
    x = S.sample(S.gaussian_denoiser(sched, MU, S2, prediction), x_T.shape, sched, sampler, steps,
                 prediction=prediction, clip=False, x_T=x_T, lower_order_final=lower_order_final)
    return float((x - exact).abs().max() / exact.abs().max())


def main():
    torch.set_num_threads(1)
    cos, lin = S.Schedule("cosine"), S.Schedule("linear")

    # Timestep selection.
    ts = S.timesteps(1000, 25)
    check(ts[0] == 960 and ts[-1] == 0 and all(a - b == 40 for a, b in zip(ts, ts[1:])) and len(ts) == 25,
          "25 timesteps from 960 to 0 (leading spacing), strictly decreasing")
    check(S.timesteps(1000, 1000) == list(range(999, -1, -1)), "1000 steps visit every timestep")
    check(S.timesteps(1000, 10, 0.0) == [] and S.timesteps(1000, 10, 0.5) == ts_tail(S.timesteps(1000, 10), 5),
          "img2img strength keeps the last round(S s) timesteps")
    for bad in [(1000, 1001), (1000, 0), (10, 25)]:
        try:
            S.timesteps(*bad)
            check(False, f"steps {bad[1]} of T {bad[0]} rejected")
        except ValueError:
            check(True, f"steps {bad[1]} of T {bad[0]} rejected")

    # Identities between the papers' update rules, on random inputs.
    g = torch.Generator().manual_seed(1)
    x, out, z = (torch.randn(4, 3, 5, 5, generator=g, dtype=S.DTYPE) for _ in range(3))
    for t, prev in [(600, 480), (40, 0), (999, 900)]:
        a = S.step(x, out, lin, "ddim", t, prev, z=z, eta=1.0, clip=False)[0]
        b = S.step(x, out, lin, "ddpm", t, prev, z=z, variance="beta_tilde", clip=False)[0]
        check(torch.allclose(a, b, rtol=0, atol=1e-12), f"DDIM(eta=1) == DDPM beta-tilde posterior ({t}->{prev})")
        a = S.step(x, out, cos, "ddim", t, prev, clip=True)[0]
        b = S.step(x, out, cos, "dpmpp2m", t, prev, clip=True)[0]
        check(torch.allclose(a, b, rtol=0, atol=1e-12), f"DPM-Solver++(1) == DDIM(eta=0) ({t}->{prev})")
    # v prediction: the v of the exact eps gives the same step.
    ab = cos.alpha_bar(500)
    x0_true = torch.randn(4, 3, 5, 5, generator=g, dtype=S.DTYPE)
    xt = math.sqrt(ab) * x0_true + math.sqrt(1 - ab) * out
    v = math.sqrt(ab) * out - math.sqrt(1 - ab) * x0_true
    a = S.step(xt, out, cos, "ddim", 500, 300, clip=False)[0]
    b = S.step(xt, v, cos, "ddim", 500, 300, prediction="v", clip=False)[0]
    check(torch.allclose(a, b, rtol=0, atol=1e-10), "eps and v predictions of the same x0 give the same step")
    cond, uncond = out, torch.randn(4, 3, 5, 5, generator=g, dtype=S.DTYPE)
    check(torch.allclose(S.guide(cond, uncond, 1.0), cond, rtol=0, atol=1e-15), "guidance w = 1 is conditional sampling")
    final = S.step(x, out, lin, "ddpm", 7, -1, z=z, variance="beta", clip=True)
    check(torch.equal(final[0], final[1]) and float(final[0].abs().max()) <= 1, "the final step returns clipped x0")

    # The probability-flow endpoint: accuracy and order of convergence (errors measured in float64).
    for pred in ["eps", "v"]:
        e50, e500 = flow_error(cos, "ddim", 50, pred), flow_error(cos, "ddim", 500, pred)
        check(e500 < 5e-3 and 7 < e50 / e500 < 13, f"DDIM(eta=0) first order ({pred}): {e50:.2e} / {e500:.2e}")
        d50, d200 = flow_error(cos, "dpmpp2m", 50, pred), flow_error(cos, "dpmpp2m", 200, pred)
        check(d200 < 5e-4 and 10 < d50 / d200 < 22, f"DPM-Solver++(2M) second order ({pred}): {d50:.2e} / {d200:.2e}")
    for sched, name in [(cos, "cosine"), (lin, "linear")]:
        for steps in [10, 25, 100]:
            before = flow_error(sched, "dpmpp2m", steps, lower_order_final=False)
            after = flow_error(sched, "dpmpp2m", steps)
            check(after < before / 1.5, f"lower-order final helps ({name}, {steps} steps): {before:.2e} -> {after:.2e}")

    # Ancestral samplers reproduce the data distribution (5 standard errors).
    g = torch.Generator().manual_seed(2)
    for sampler, steps, kw in [("ddpm", 1000, {"variance": "beta_tilde"}), ("ddpm", 1000, {"variance": "beta"}),
                               ("ddim", 1000, {"eta": 1.0})]:
        x = S.sample(S.gaussian_denoiser(lin, MU, S2), (8, 3, 32, 32), lin, sampler, steps, clip=False,
                     generator=g, **kw)
        n = x.numel()
        m, var = float(x.mean()), float(x.var())
        check(abs(m - MU) < 5 * math.sqrt(S2 / n) and abs(var - S2) < 5 * S2 * math.sqrt(2 / n),
              f"{sampler} {kw} {steps} steps: mean {m:.4f}, variance {var:.4f} (data {MU}, {S2})")

    # img2img and inpainting.
    init = torch.rand(3, 8, 8, generator=g, dtype=S.DTYPE) * 2 - 1
    model = S.gaussian_denoiser(lin, MU, S2)
    same = S.sample(model, (2, 3, 8, 8), lin, "ddim", 10, init=init, strength=0.0, generator=g)
    check(torch.equal(same, init.expand(2, 3, 8, 8)), "img2img strength 0 returns the input")
    keep = (torch.arange(64, dtype=S.DTYPE).reshape(8, 8) % 2)
    x = S.sample(model, (2, 3, 8, 8), lin, "ddpm", 20, known=init, keep=keep, generator=g)
    check(torch.equal(x[:, :, keep == 1], init.expand(2, 3, 8, 8)[:, :, keep == 1]), "inpainting keeps known pixels")

    print(f"{len(FAILURES)} failure(s)" if FAILURES else "all passed")
    return 1 if FAILURES else 0


def ts_tail(ts, k):
    return ts[len(ts) - k:]


if __name__ == "__main__":
    sys.exit(main())
