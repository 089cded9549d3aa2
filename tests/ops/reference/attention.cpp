#include "ops/reference/attention.hpp"

#include <algorithm>
#include <cmath>

namespace tessera::reference {

namespace {

struct Index {
  const AttentionShape& s;
  int64_t d() const { return s.channels / s.heads; }
  // Element of q (part 0), k (1) or v (2): channel c of head h, token t, sample n.
  size_t qkv(int64_t n, int part, int64_t h, int64_t c, int64_t t) const {
    return static_cast<size_t>(((n * 3 + part) * s.channels + h * d() + c) * s.tokens + t);
  }
  size_t o(int64_t n, int64_t h, int64_t c, int64_t t) const {
    return static_cast<size_t>((n * s.channels + h * d() + c) * s.tokens + t);
  }
  size_t p(int64_t n, int64_t h, int64_t t, int64_t u) const {
    return static_cast<size_t>(((n * s.heads + h) * s.tokens + t) * s.tokens + u);
  }
};

}  // namespace

AttentionOutputs attention_forward(std::span<const double> qkv, const AttentionShape& s) {
  Index I{s};
  const int64_t T = s.tokens, D = I.d();
  const double scale = 1.0 / std::sqrt(double(D));
  AttentionOutputs r;
  r.o.assign(static_cast<size_t>(s.samples * s.channels * T), 0.0);
  r.probs.assign(static_cast<size_t>(s.samples * s.heads * T * T), 0.0);
  for (int64_t n = 0; n < s.samples; ++n)
    for (int64_t h = 0; h < s.heads; ++h)
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> row(static_cast<size_t>(T));
        for (int64_t u = 0; u < T; ++u) {
          double dot = 0;
          for (int64_t c = 0; c < D; ++c) dot += qkv[I.qkv(n, 0, h, c, t)] * qkv[I.qkv(n, 1, h, c, u)];
          row[u] = dot * scale;
        }
        double mx = *std::max_element(row.begin(), row.end()), sum = 0;
        for (double& v : row) sum += (v = std::exp(v - mx));
        for (int64_t u = 0; u < T; ++u) r.probs[I.p(n, h, t, u)] = row[u] / sum;
        for (int64_t c = 0; c < D; ++c) {
          double acc = 0;
          for (int64_t u = 0; u < T; ++u) acc += r.probs[I.p(n, h, t, u)] * qkv[I.qkv(n, 2, h, c, u)];
          r.o[I.o(n, h, c, t)] = acc;
        }
      }
  return r;
}

std::vector<double> attention_backward(std::span<const double> qkv, std::span<const double> d_o,
                                       const AttentionShape& s) {
  Index I{s};
  const int64_t T = s.tokens, D = I.d();
  const double scale = 1.0 / std::sqrt(double(D));
  auto fwd = attention_forward(qkv, s);
  std::vector<double> g(qkv.size(), 0.0);
  for (int64_t n = 0; n < s.samples; ++n)
    for (int64_t h = 0; h < s.heads; ++h)
      for (int64_t t = 0; t < T; ++t) {
        // dP[t, u] = sum_c do[c, t] v[c, u]; dv[c, u] += P[t, u] do[c, t]
        std::vector<double> dp(static_cast<size_t>(T), 0.0);
        for (int64_t u = 0; u < T; ++u) {
          double p = fwd.probs[I.p(n, h, t, u)];
          for (int64_t c = 0; c < D; ++c) {
            double dov = d_o[I.o(n, h, c, t)];
            dp[u] += dov * qkv[I.qkv(n, 2, h, c, u)];
            g[I.qkv(n, 2, h, c, u)] += p * dov;
          }
        }
        double dot = 0;
        for (int64_t u = 0; u < T; ++u) dot += dp[u] * fwd.probs[I.p(n, h, t, u)];
        for (int64_t u = 0; u < T; ++u) {
          double ds = fwd.probs[I.p(n, h, t, u)] * (dp[u] - dot) * scale;  // d loss / d (q.k)
          for (int64_t c = 0; c < D; ++c) {
            g[I.qkv(n, 0, h, c, t)] += ds * qkv[I.qkv(n, 1, h, c, u)];
            g[I.qkv(n, 1, h, c, u)] += ds * qkv[I.qkv(n, 0, h, c, t)];
          }
        }
      }
  return g;
}

}  // namespace tessera::reference
