"""PyTorch (float64) reference of Tessera's samplers (SPEC §4), written from the papers.

The C++ side (runtime/src/diffusion/sampler_schedule.cpp + shaders/sampler_step.comp) folds
every sampler into coefficients of one linear combination; this module instead follows each
paper's own formulation, so that agreement between the two is an independent check:

  DDPM     Ho et al. 2020, eq. (6)-(7): the posterior q(x_prev | x_t, x0) with mean
           sqrt(ab_prev) beta/(1-ab_t) x0 + sqrt(alpha)(1-ab_prev)/(1-ab_t) x_t and variance
           beta (sigma^2 = beta_t) or beta-tilde = (1-ab_prev)/(1-ab_t) beta_t. On a respaced
           sub-sequence (Nichol & Dhariwal 2021, sec. 4) alpha = ab_t / ab_prev, beta = 1 - alpha.
           No noise on the last step (Algorithm 2: z = 0 at t = 1).
  DDIM     Song et al. 2021, eq. (12) and (16): x_prev = sqrt(ab_prev) x0
           + sqrt(1 - ab_prev - sigma^2) eps + sigma z,
           sigma = eta sqrt((1-ab_prev)/(1-ab_t)) sqrt(1 - ab_t/ab_prev), on any sub-sequence.
  DPM-Solver++(2M)  Lu et al. 2022, Algorithm 2 (data prediction, multistep): with
           lambda = log(alpha/sigma), h_i = lambda_i - lambda_{i-1}, r_i = h_{i-1} / h_i,
           D_i = (1 + 1/(2 r_i)) x0_{i-1} - 1/(2 r_i) x0_{i-2},
           x_i = (sigma_i/sigma_{i-1}) x_{i-1} - alpha_i (e^{-h_i} - 1) D_i;
           the first step (no history) is DPM-Solver++(1) = D_i = x0_{i-1}.
  The final step (to alpha_bar = 1) returns the x0 estimate for every sampler: the limit of the
  DDIM / DPM-Solver++(1) formulas as sigma_prev -> 0, and DDPM's noiseless last step.

Predictions: eps (x0 = (x - b eps)/a) or v (Salimans & Ho 2022: v = a eps - b x0, so
x0 = a x - b v, eps = b x + a v). x0 clipping clamps x0 to [-1, 1] and re-derives eps from it
(as guided-diffusion / DDIM implementations do). Classifier-free guidance (Ho & Salimans 2022):
o = o_uncond + w (o_cond - o_uncond), i.e. the paper's (1 + w') o_cond - w' o_uncond with
w = 1 + w'; w = 1 is plain conditional sampling (Tessera's convention, SamplerOptions::guidance).
img2img (SDEdit, Meng et al. 2022): start at x_t0 = a_t0 x_init + b_t0 z, t0 the first of the
kept timesteps. Inpainting (RePaint-style keep blend, Lugmayr et al. 2022 without resampling):
after each step x = (1 - keep) x + keep (a_prev known + b_prev z_k).

Lower-order final (runtime/src/diffusion/sampler.cpp, `sampler_step_times`): DPM-Solver++(2M)
takes the first-order update on the step into the sequence's last timestep (and the final
step is x0 anyway), see `step_times`.
"""
import math

import torch

DTYPE = torch.float64


# ---------------------------------------------------------------------------------------------
# Noise schedules (Ho et al. linear betas; Nichol & Dhariwal cosine alpha_bar, betas <= 0.999)

def betas(schedule, T):
    if T < 2:
        raise ValueError(f"need at least 2 timesteps, got {T}")
    if schedule == "linear":
        return torch.linspace(1e-4, 0.02, T, dtype=DTYPE)
    if schedule == "cosine":
        s = 0.008
        t = torch.arange(T + 1, dtype=DTYPE)
        f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
        return torch.clamp(1 - f[1:] / f[:-1], max=0.999)
    raise ValueError(f"unknown schedule {schedule!r}")


class Schedule:
    def __init__(self, schedule="linear", T=1000):
        self.T = T
        self.alpha_bars = torch.cumprod(1 - betas(schedule, T), 0)

    def alpha_bar(self, t):
        """t = -1 is the clean end of the chain, alpha_bar = 1."""
        if t == -1:
            return 1.0
        if not 0 <= t < self.T:
            raise ValueError(f"timestep {t} outside 0..{self.T - 1}")
        return float(self.alpha_bars[t])


# ---------------------------------------------------------------------------------------------
# Timestep selection

def _round_half_away(v):
    """std::llround for v >= 0 (Python's round() is round-half-even)."""
    f = math.floor(v)
    return int(f) + (1 if v - f >= 0.5 else 0)


def timesteps(T, steps, strength=1.0):
    """"Leading" spacing: floor(i T / S) for i = S-1 .. 0 (ADM's DDIM respacing), strictly
    decreasing, never starting at T-1 where a cosine schedule's alpha_bar ~ 2e-9 makes the x0
    estimate meaningless; img2img keeps the last round(S s)."""
    if not 1 <= steps <= T:
        raise ValueError(f"steps must be in 1..{T}, got {steps}")
    if not 0 <= strength <= 1:
        raise ValueError("strength must be in [0, 1]")
    ts = [i * T // steps for i in range(steps - 1, -1, -1)]
    keep = _round_half_away(steps * strength)
    return ts[len(ts) - keep:] if keep < len(ts) else ts


def step_times(ts, i, sampler="dpmpp2m", lower_order_final=True):
    """(t, t_prev, t_last) of step i of sequence ts; t_prev = -1 on the final step, t_last = -1
    when the step has no history. Lower-order final: the step into ts[-1] drops the history."""
    t = ts[i]
    prev = ts[i + 1] if i + 1 < len(ts) else -1
    last = ts[i - 1] if i > 0 else -1
    if sampler == "dpmpp2m" and lower_order_final and i + 2 >= len(ts):
        last = -1
    return t, prev, last


# ---------------------------------------------------------------------------------------------
# One step

def guide(out_cond, out_uncond, w):
    return out_uncond + w * (out_cond - out_uncond)


def x0_and_eps(x, out, ab_t, prediction="eps", clip=True):
    a, b = math.sqrt(ab_t), math.sqrt(1 - ab_t)
    if prediction == "eps":
        eps = out
        x0 = (x - b * eps) / a
    elif prediction == "v":
        x0 = a * x - b * out
        eps = b * x + a * out
    else:
        raise ValueError(f"unknown prediction {prediction!r}")
    if clip:
        x0 = x0.clamp(-1, 1)
        eps = (x - a * x0) / b
    return x0, eps


def ddpm_update(x, x0, ab_t, ab_prev, z, variance="beta_tilde"):
    alpha = ab_t / ab_prev
    beta = 1 - alpha
    mean = math.sqrt(ab_prev) * beta / (1 - ab_t) * x0 + math.sqrt(alpha) * (1 - ab_prev) / (1 - ab_t) * x
    if variance == "beta":
        var = beta
    elif variance == "beta_tilde":
        var = (1 - ab_prev) / (1 - ab_t) * beta
    else:
        raise ValueError(f"unknown DDPM variance {variance!r}")
    return mean + math.sqrt(var) * z


def ddim_update(x0, eps, ab_t, ab_prev, z, eta=0.0):
    if not 0 <= eta <= 1:
        raise ValueError("eta must be in [0, 1]")
    sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab_t)) * math.sqrt(1 - ab_t / ab_prev)
    return math.sqrt(ab_prev) * x0 + math.sqrt(max(0.0, 1 - ab_prev - sigma ** 2)) * eps + sigma * z


def _lam(ab):
    return math.log(math.sqrt(ab) / math.sqrt(1 - ab))


def dpmpp2m_update(x, x0, ab_t, ab_prev, x0_last=None, ab_last=None):
    """DPM-Solver++(2M) from t to prev; x0_last (the previous step's x0 at ab_last) or None."""
    alpha_p, sigma_p, sigma_t = math.sqrt(ab_prev), math.sqrt(1 - ab_prev), math.sqrt(1 - ab_t)
    h = _lam(ab_prev) - _lam(ab_t)
    if x0_last is None:
        D = x0
    else:
        r = (_lam(ab_t) - _lam(ab_last)) / h
        D = (1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * x0_last
    return sigma_p / sigma_t * x - alpha_p * math.expm1(-h) * D


def step(x, out, sched, sampler, t, t_prev, t_last=-1, x0_last=None, z=None, eta=0.0, variance="beta_tilde",
         prediction="eps", clip=True, guidance=None, out_uncond=None):
    """One step from t to t_prev (-1: final). Returns (x_prev, x0). out_uncond given: guided."""
    if out_uncond is not None:
        out = guide(out, out_uncond, guidance)
    ab_t = sched.alpha_bar(t)
    x0, eps = x0_and_eps(x, out, ab_t, prediction, clip)
    if t_prev == -1:
        return x0.clone(), x0
    if not (t_prev < t and (t_last == -1 or t_last > t)):
        raise ValueError(f"bad step times t {t} prev {t_prev} last {t_last}")
    ab_prev = sched.alpha_bar(t_prev)
    if z is None:
        z = torch.zeros_like(x)
    if sampler == "ddpm":
        return ddpm_update(x, x0, ab_t, ab_prev, z, variance), x0
    if sampler == "ddim":
        return ddim_update(x0, eps, ab_t, ab_prev, z, eta), x0
    if sampler == "dpmpp2m":
        use = t_last != -1
        return dpmpp2m_update(x, x0, ab_t, ab_prev, x0_last if use else None,
                              sched.alpha_bar(t_last) if use else None), x0
    raise ValueError(f"unknown sampler {sampler!r}")


def noised(known, zk, ab):
    return math.sqrt(ab) * known + math.sqrt(1 - ab) * zk


def blend_known(x, known, zk, keep, ab):
    """x (1 - keep) + keep (a known + b zk); keep [H, W] broadcast over [N, C]; keep = 1 exact."""
    n = noised(known, zk, ab)
    return torch.where(keep >= 1, n, x * (1 - keep) + n * keep)


# ---------------------------------------------------------------------------------------------
# A whole generation

def sample(model, shape, sched, sampler="dpmpp2m", steps=25, eta=0.0, variance="beta_tilde", prediction="eps",
           clip=True, guidance=1.0, guided=False, init=None, strength=1.0, known=None, keep=None,
           lower_order_final=True, generator=None, x_T=None, dtype=DTYPE):
    """model(x, t) -> output (or (cond, uncond) when guided). init: img2img image [C, H, W];
    known + keep: inpainting. x_T: the starting noise (default drawn from generator)."""
    def randn():
        return torch.randn(shape, generator=generator, dtype=dtype)

    ts = timesteps(sched.T, steps, strength if init is not None else 1.0)
    x = x_T.to(dtype) if x_T is not None else randn()
    if init is not None:
        x = noised(init.to(dtype), x, sched.alpha_bar(ts[0]) if ts else 1.0)
    elif keep is not None:
        x = blend_known(x, known.to(dtype), randn(), keep.to(dtype), sched.alpha_bar(ts[0]))
    x0 = None
    for i in range(len(ts)):
        t, prev, last = step_times(ts, i, sampler, lower_order_final)
        out = model(x, t)
        cond, uncond = out if guided else (out, None)
        z = randn() if prev != -1 and (sampler == "ddpm" or (sampler == "ddim" and eta > 0)) else None
        x, x0 = step(x, cond, sched, sampler, t, prev, last, x0, z, eta, variance, prediction, clip, guidance,
                     uncond)
        if keep is not None:
            x = blend_known(x, known.to(dtype), randn(), keep.to(dtype), sched.alpha_bar(prev))
    return x


def gaussian_denoiser(sched, mu, s2, prediction="eps"):
    """The exact denoiser for data x0 ~ N(mu, s2 I): E[x0 | x_t] = mu + a s2 (x_t - a mu) / (a^2 s2 + b^2)."""
    def model(x, t):
        ab = sched.alpha_bar(t)
        a, b = math.sqrt(ab), math.sqrt(1 - ab)
        x0 = mu + a * s2 * (x - a * mu) / (ab * s2 + 1 - ab)
        eps = (x - a * x0) / b
        return eps if prediction == "eps" else a * eps - b * x0
    return model


def _main(argv):
    """samplers.py timesteps T,STEPS,STRENGTH,SAMPLER ...: per spec one line, "error" for a
    rejected one, else the step times "t:prev:last" of every step (for the C++ tests)."""
    if len(argv) < 1 or argv[0] != "timesteps":
        raise SystemExit(_main.__doc__)
    for spec in argv[1:]:
        T, steps, strength, sampler = spec.split(",")
        try:
            ts = timesteps(int(T), int(steps), float(strength))
        except ValueError:
            print("error")
            continue
        print(" ".join("%d:%d:%d" % step_times(ts, i, sampler) for i in range(len(ts))))


if __name__ == "__main__":
    import sys
    _main(sys.argv[1:])
