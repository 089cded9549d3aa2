// The oracle's ops: each output element computed by one scalar loop in the order
// docs/portable.md §3 fixes for that op, from the contract's arithmetic (portable::add, sub, mul:
// one rounding each, then the flush of subnormals and -0). Operands read from memory go through
// portable::flush first, as the contract says. Built with -ffp-contract=off (tessera_runtime's PUBLIC option).
#include <algorithm>
#include <cmath>

#include "portable/oracle.hpp"
#include "tessera/error.hpp"
#include "tessera/portable_math.hpp"

namespace tessera::oracle {

namespace pm = tessera::portable;

namespace {

int wrap(int i, int n) { return i < 0 ? i + n : (i >= n ? i - n : i); }

// Σ_{i asc} over 64 fixed lanes (lane l takes i ≡ l mod 64), then a halving tree: groupnorm's sum.
template <typename Term>
float lane_tree_sum(size_t count, const Term& term) {
  float part[64] = {};
  size_t i = 0;
  for (; i + 64 <= count; i += 64)
    for (size_t l = 0; l < 64; ++l) part[l] = pm::add(part[l], term(i + l));
  for (; i < count; ++i) part[i % 64] = pm::add(part[i % 64], term(i));
  for (int h = 32; h >= 1; h /= 2)
    for (int l = 0; l < h; ++l) part[l] = pm::add(part[l], part[l + h]);
  return part[0];
}

}  // namespace

Tensor4 conv2d(const Tensor4& x, std::span<const float> weight, std::span<const float> bias, int out_channels,
               int kernel, int stride, Padding padding) {
  const int pad = kernel / 2;
  const int oh = (x.h + 2 * pad - kernel) / stride + 1, ow = (x.w + 2 * pad - kernel) / stride + 1;
  if (weight.size() != size_t(out_channels) * x.c * kernel * kernel || bias.size() != size_t(out_channels))
    throw Error("oracle conv2d: weight or bias size does not match");
  // The input padded by `pad` on every side: wrapped (circular) or +0 (zeros). A zero tap adds
  // mul(w, +0) = +0 to an accumulator that is never -0, which leaves it unchanged, so this is
  // the contract's "zero padding skips the tap". Every operand goes through F (idempotent, so once).
  const int ph = x.h + 2 * pad, pw = x.w + 2 * pad;
  std::vector<float> padded(size_t(x.n) * x.c * ph * pw, 0.0f);
  for (int n = 0; n < x.n; ++n)
    for (int c = 0; c < x.c; ++c)
      for (int y = 0; y < ph; ++y)
        for (int xx = 0; xx < pw; ++xx) {
          int iy = y - pad, ix = xx - pad;
          if (padding == Padding::Circular) {
            iy = wrap(iy, x.h);
            ix = wrap(ix, x.w);
          } else if (iy < 0 || iy >= x.h || ix < 0 || ix >= x.w) {
            continue;
          }
          padded[((size_t(n) * x.c + c) * ph + y) * pw + xx] = pm::flush(x.at(n, c, iy, ix));
        }
  Tensor4 y(x.n, out_channels, oh, ow);
  // Each output element's terms are added in the contract's order - ky, then kx, then input
  // channel - with the loops running over a row of outputs per term, so that the compiler can
  // vectorise across output pixels (each lane is one element's own sum; nothing reassociates).
  std::vector<float> acc(size_t(oh) * ow);
  for (int n = 0; n < x.n; ++n)
    for (int co = 0; co < out_channels; ++co) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int ky = 0; ky < kernel; ++ky)
        for (int kx = 0; kx < kernel; ++kx)
          for (int ci = 0; ci < x.c; ++ci) {
            const float w = pm::flush(weight[((size_t(co) * x.c + ci) * kernel + ky) * kernel + kx]);
            const float* plane = &padded[(size_t(n) * x.c + ci) * ph * pw];
            for (int oy = 0; oy < oh; ++oy) {
              const float* row = plane + size_t(oy * stride + ky) * pw + kx;
              float* out = &acc[size_t(oy) * ow];
              if (stride == 1) {
                for (int ox = 0; ox < ow; ++ox) out[ox] = pm::add(out[ox], pm::mul(w, row[ox]));
              } else {
                for (int ox = 0; ox < ow; ++ox) out[ox] = pm::add(out[ox], pm::mul(w, row[ox * stride]));
              }
            }
          }
      const float b = pm::flush(bias[co]);
      float* out = &y.v[(size_t(n) * out_channels + co) * y.plane()];
      for (size_t i = 0; i < acc.size(); ++i) out[i] = pm::add(acc[i], b);
    }
  return y;
}

float silu(float x) { return pm::silu(pm::flush(x)); }

std::vector<float> silu(std::span<const float> x) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = silu(x[i]);
  return y;
}

Tensor4 groupnorm(const Tensor4& x, std::span<const float> gamma, std::span<const float> beta, int groups, bool silu_) {
  const int per_group = x.c / groups;
  const size_t m = size_t(per_group) * x.plane();
  const float inv_m = float(1.0 / double(m)), eps = float(1e-5);
  Tensor4 y(x.n, x.c, x.h, x.w);
  for (int n = 0; n < x.n; ++n)
    for (int g = 0; g < groups; ++g) {
      const size_t first = (size_t(n) * x.c + size_t(g) * per_group) * x.plane();
      auto value = [&](size_t e) { return pm::flush(x.v[first + e]); };
      const float mean = pm::mul(lane_tree_sum(m, value), inv_m);
      const float var = pm::mul(lane_tree_sum(m,
                                              [&](size_t e) {
                                                const float d = pm::sub(value(e), mean);
                                                return pm::mul(d, d);
                                              }),
                                inv_m);
      const float rstd = pm::rsqrt(pm::add(var, eps));
      for (int k = 0; k < per_group; ++k) {
        const size_t c = size_t(g) * per_group + k;
        const float scale = pm::mul(pm::flush(gamma[c]), rstd), shift = pm::flush(beta[c]);
        for (size_t p = 0; p < x.plane(); ++p) {
          const float z = pm::add(pm::mul(pm::sub(value(k * x.plane() + p), mean), scale), shift);
          y.v[first + k * x.plane() + p] = silu_ ? pm::silu(z) : z;
        }
      }
    }
  return y;
}

std::vector<float> linear(std::span<const float> x, int n, int in, std::span<const float> weight,
                          std::span<const float> bias, int out) {
  if (x.size() != size_t(n) * in || weight.size() != size_t(out) * in || bias.size() != size_t(out))
    throw Error("oracle linear: sizes do not match");
  std::vector<float> y(size_t(n) * out);
  for (int r = 0; r < n; ++r)
    for (int o = 0; o < out; ++o) {
      float acc = 0.0f;
      for (int i = 0; i < in; ++i)
        acc = pm::add(acc, pm::mul(pm::flush(x[size_t(r) * in + i]), pm::flush(weight[size_t(o) * in + i])));
      y[size_t(r) * out + o] = pm::add(acc, pm::flush(bias[o]));
    }
  return y;
}

std::vector<float> timestep_embedding(std::span<const float> timesteps, int dim) {
  const int half = dim / 2;
  std::vector<float> y(timesteps.size() * dim, 0.0f);
  for (int i = 0; i < half; ++i) {
    // The host's frequency table (runtime/src/ops/timestep_embedding.cpp), max_period 10000.
    const double freq = std::exp(-std::log(10000.0) * double(i) / double(half));
    const float hi = float(freq), lo = float(freq - double(hi));
    for (size_t n = 0; n < timesteps.size(); ++n) {
      const float t = pm::flush(timesteps[n]);
      y[n * dim + i] = pm::sin_cos_of_product(t, hi, lo, false);
      y[n * dim + half + i] = pm::sin_cos_of_product(t, hi, lo, true);
    }
  }
  return y;
}

Tensor4 attention(const Tensor4& qkv, int heads) {
  const int C = qkv.c / 3, D = C / heads;
  const size_t T = qkv.plane();
  Tensor4 o(qkv.n, C, qkv.h, qkv.w);
  const float scale = float(1.0 / std::sqrt(double(D)));
  std::vector<float> f(qkv.v.size());
  for (size_t i = 0; i < f.size(); ++i) f[i] = pm::flush(qkv.v[i]);
  // pt[s * T + t] = P[t, s]: transposed, so that the loops below run over t (one element's sum
  // per lane, each in the contract's order).
  std::vector<float> pt(T * T), row(T), acc(T);
  for (int n = 0; n < qkv.n; ++n)
    for (int h = 0; h < heads; ++h) {
      const float* q = &f[(size_t(n) * 3 * C + size_t(h) * D) * T];
      const float* k = q + size_t(C) * T;
      const float* v = k + size_t(C) * T;
      for (size_t t = 0; t < T; ++t) {
        // 1. S[t, s] = mul(scale, sum over c ascending of mul(q[c, t], k[c, s])).
        std::fill(row.begin(), row.end(), 0.0f);
        for (int c = 0; c < D; ++c) {
          const float qc = q[c * T + t];
          for (size_t s = 0; s < T; ++s) row[s] = pm::add(row[s], pm::mul(qc, k[c * T + s]));
        }
        for (size_t s = 0; s < T; ++s) row[s] = pm::mul(scale, row[s]);
        // 2. Softmax: exp(S - max), their sum ascending, times its reciprocal.
        const float mx = *std::max_element(row.begin(), row.end());
        float sum = 0.0f;
        for (size_t s = 0; s < T; ++s) sum = pm::add(sum, row[s] = pm::exp(pm::sub(row[s], mx)));
        const float inv = pm::recip(sum);
        for (size_t s = 0; s < T; ++s) pt[s * T + t] = pm::mul(row[s], inv);
      }
      // 3. o[c, t] = sum over s ascending of mul(v[c, s], P[t, s]).
      for (int c = 0; c < D; ++c) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (size_t s = 0; s < T; ++s) {
          const float vs = v[c * T + s];
          const float* p = &pt[s * T];
          for (size_t t = 0; t < T; ++t) acc[t] = pm::add(acc[t], pm::mul(vs, p[t]));
        }
        std::copy(acc.begin(), acc.end(), &o.v[(size_t(n) * C + size_t(h) * D + c) * T]);
      }
    }
  return o;
}

Tensor4 upsample_nearest2x(const Tensor4& x) {
  Tensor4 y(x.n, x.c, 2 * x.h, 2 * x.w);
  for (int n = 0; n < x.n; ++n)
    for (int c = 0; c < x.c; ++c)
      for (int yy = 0; yy < y.h; ++yy)
        for (int xx = 0; xx < y.w; ++xx) y.at(n, c, yy, xx) = pm::flush(x.at(n, c, yy / 2, xx / 2));
  return y;
}

std::vector<float> add(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size()) throw Error("oracle add: shapes differ");
  std::vector<float> y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = pm::add(pm::flush(a[i]), pm::flush(b[i]));
  return y;
}

Tensor4 add(const Tensor4& a, const Tensor4& b) {
  Tensor4 y(a.n, a.c, a.h, a.w);
  y.v = add(a.v, b.v);
  return y;
}

void channel_bias_add(Tensor4& x, std::span<const float> bias) {
  for (int n = 0; n < x.n; ++n)
    for (int c = 0; c < x.c; ++c) {
      const float b = pm::flush(bias[size_t(n) * x.c + c]);
      float* p = &x.v[(size_t(n) * x.c + c) * x.plane()];
      for (size_t i = 0; i < x.plane(); ++i) p[i] = pm::add(pm::flush(p[i]), b);
    }
}

Tensor4 concat_channels(const Tensor4& a, const Tensor4& b) {
  Tensor4 y(a.n, a.c + b.c, a.h, a.w);
  for (int n = 0; n < a.n; ++n) {
    std::copy_n(&a.v[size_t(n) * a.c * a.plane()], size_t(a.c) * a.plane(), &y.v[size_t(n) * y.c * y.plane()]);
    std::copy_n(&b.v[size_t(n) * b.c * b.plane()], size_t(b.c) * b.plane(), &y.v[(size_t(n) * y.c + a.c) * y.plane()]);
  }
  return y;
}

void sampler_step(std::span<float> x, std::span<const float> model_out, std::span<const float> z, std::span<float> x0,
                  const ops::SamplerStepCoefficients& c, double guidance, const ops::SamplerStepFlags& flags) {
  // Every coefficient is the host's double rounded once to f32, reciprocals included.
  const float g = float(guidance), a_t = float(c.a_t), b_t = float(c.b_t), inv_a = float(1.0 / c.a_t),
              inv_b = float(1.0 / c.b_t), c_x = float(c.c_x), c_x0 = float(c.c_x0), c_last = float(c.c_x0_last),
              c_eps = float(c.c_eps), sigma = float(c.sigma);
  const size_t total = x.size();
  for (size_t i = 0; i < total; ++i) {
    const float xt = pm::flush(x[i]);
    float o = pm::flush(model_out[i]);
    if (flags.guided) {
      const float u = pm::flush(model_out[i + total]);
      o = pm::add(u, pm::mul(g, pm::sub(o, u)));
    }
    float est, eps;
    if (flags.v_prediction) {
      est = pm::sub(pm::mul(a_t, xt), pm::mul(b_t, o));
      eps = pm::add(pm::mul(b_t, xt), pm::mul(a_t, o));
    } else {
      eps = o;
      est = pm::mul(pm::sub(xt, pm::mul(b_t, eps)), inv_a);
    }
    if (flags.clip_x0) {
      est = std::min(std::max(est, -1.0f), 1.0f);
      eps = pm::mul(pm::sub(xt, pm::mul(a_t, est)), inv_b);
    }
    float next = pm::add(pm::add(pm::add(pm::mul(c_x, xt), pm::mul(c_x0, est)), pm::mul(c_eps, eps)),
                         pm::mul(sigma, pm::flush(z[i])));
    if (c.uses_history) next = pm::add(next, pm::mul(c_last, pm::flush(x0[i])));
    x[i] = next;
    x0[i] = est;
  }
}

}  // namespace tessera::oracle
