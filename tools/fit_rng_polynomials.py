#!/usr/bin/env python3
"""Fits the polynomials of Tessera's bit-exact Box-Muller (shaders/include/philox.glsl and
runtime/src/rng/philox.cpp) and prints them as float literals for both files.

Why our own polynomials: GPU log/sin/cos/sqrt are not correctly rounded and differ by vendor,
so the RNG evaluates fixed polynomials with float add/mul only (correctly rounded on every
Vulkan device). Coefficients are fitted here in double precision, then rounded to float32;
the errors printed at the end are those of the float32 coefficients evaluated with float32
Horner arithmetic (numpy float32 ops round each mul/add once, like the shader with `precise`).

Approximations (t, f, x are the reduced arguments the runtime computes exactly):
  log:  ln(1+f) = f * P(f),            f = m - 1, m in [sqrt(1/2), sqrt(2)],  P(0) = 1 exactly
  sin:  sin(pi/4 * t) = t * S(t*t),    t in [0, 1]   (one octant of the circle)
  cos:  cos(pi/4 * t) = C(t*t),        t in [0, 1]
Each is a weighted minimax fit of the relative error (Lawson's iteratively reweighted least
squares on a dense grid), degree chosen as the smallest one whose fit error is far below
float rounding (2^-24 ~ 6e-8).

Usage: /usr/bin/python3 tools/fit_rng_polynomials.py
"""
import numpy as np

F32 = np.float32


def lawson_fit(x, target, weight, basis_degrees, iterations=200):
    """Minimax-like fit of sum(c_k * x^k) to target, minimising max |weight*(fit-target)|."""
    A = np.stack([x ** k for k in basis_degrees], axis=1)
    lawson = np.full(x.size, 1.0 / x.size)
    for _ in range(iterations):
        w = np.sqrt(lawson) * weight
        coef, *_ = np.linalg.lstsq(A * w[:, None], target * w, rcond=None)
        err = np.abs((A @ coef - target) * weight)
        lawson = lawson * err
        lawson /= lawson.sum()
    return coef, np.max(np.abs((A @ coef - target) * weight))


def horner_f32(coefs_low_to_high, x):
    """Float32 Horner with one rounding per mul and per add (no fma), like the runtime."""
    x = x.astype(F32)
    acc = np.full(x.shape, F32(coefs_low_to_high[-1]), dtype=F32)
    for c in reversed(coefs_low_to_high[:-1]):
        acc = (acc * x).astype(F32)
        acc = (acc + F32(c)).astype(F32)
    return acc


def chebyshev_grid(lo, hi, n=20001):
    k = np.arange(n)
    return 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * (k + 0.5) / n)[::-1]


def fit_log():
    lo, hi = np.sqrt(0.5) - 1 - 1e-4, np.sqrt(2.0) - 1 + 1e-4
    f = chebyshev_grid(lo, hi)
    f = f[np.abs(f) > 1e-12]
    g = np.log1p(f) / f
    # P(f) = 1 + f*Q(f): fit Q = (g-1)/f, but measure the error of P relative to g.
    for degree in range(6, 14):
        q, _ = lawson_fit(f, (g - 1.0) / f, np.abs(f) / g, range(degree))
        coef = np.concatenate([[1.0], q])
        err = np.max(np.abs(np.polyval(coef[::-1], f) / g - 1))
        if err < 5e-9:
            return coef, err, degree + 1
    raise RuntimeError("log fit did not converge")


def fit_even_or_odd(func, label):
    t = chebyshev_grid(0.0, 1.0)
    x = t * t
    target = func(t)
    for degree in range(3, 10):
        coef, err = lawson_fit(x, target, 1.0 / np.abs(target), range(degree))
        if err < 5e-9:
            return coef, err, degree
    raise RuntimeError(label + " fit did not converge")


def main():
    log_c, log_fit_err, _ = fit_log()
    # The Chebyshev grid never contains t = 0, so sin(pi/4 t)/t is finite everywhere on it.
    sin_c, sin_fit_err, _ = fit_even_or_odd(lambda t: np.sin(np.pi / 4 * t) / t, "sin")
    cos_c, cos_fit_err, _ = fit_even_or_odd(lambda t: np.cos(np.pi / 4 * t), "cos")

    log_f = [F32(c) for c in log_c]
    sin_f = [F32(c) for c in sin_c]
    cos_f = [F32(c) for c in cos_c]
    assert log_f[0] == F32(1.0)

    # Errors of the float32 coefficients with float32 arithmetic.
    f = np.linspace(np.sqrt(0.5) - 1, np.sqrt(2.0) - 1, 2_000_001).astype(F32).astype(np.float64)
    f = f[f != 0]
    f32 = f.astype(F32)
    ln = (f32 * horner_f32(log_f, f32)).astype(F32).astype(np.float64)
    log_err = np.max(np.abs(ln / np.log1p(f) - 1))

    a = np.arange(1, 2 ** 22, 2)  # the odd half-steps the runtime produces (angles never on an axis)
    t32 = (a.astype(F32) * F32(2.0 ** -22)).astype(F32)
    x32 = (t32 * t32).astype(F32)
    s = (t32 * horner_f32(sin_f, x32)).astype(F32).astype(np.float64)
    c = horner_f32(cos_f, x32).astype(np.float64)
    theta = np.pi / 4 * a / 2.0 ** 22
    sin_err = np.max(np.abs(s / np.sin(theta) - 1))
    cos_err = np.max(np.abs(c / np.cos(theta) - 1))

    def literals(coefs):
        return ", ".join("%.9g" % float(c) for c in coefs)

    print("# fit (double) max relative error: log %.2e  sin %.2e  cos %.2e" % (log_fit_err, sin_fit_err, cos_fit_err))
    print("# float32 coefficients + float32 Horner, max relative error:")
    print("#   ln(1+f), f in [sqrt(1/2)-1, sqrt(2)-1]: %.2e" % log_err)
    print("#   sin(pi/4 t), t in (0, 1):              %.2e" % sin_err)
    print("#   cos(pi/4 t), t in (0, 1):              %.2e" % cos_err)
    print("# coefficients, lowest degree first (paste into philox.glsl and philox.cpp):")
    print("LOG_P = {%s}  // degree %d" % (literals(log_f), len(log_f) - 1))
    print("SIN_S = {%s}  // degree %d in t*t" % (literals(sin_f), len(sin_f) - 1))
    print("COS_C = {%s}  // degree %d in t*t" % (literals(cos_f), len(cos_f) - 1))


if __name__ == "__main__":
    main()
