#include "ops/reference/groupnorm.hpp"

#include <cmath>

#include "ops/reference/activation.hpp"

namespace tessera::reference {

namespace {

struct GroupIndexing {
  int64_t channels_per_group, hw, size;
  GroupIndexing(const GroupNormProblem& p)
      : channels_per_group(p.c / p.groups), hw(p.h * p.w), size(p.c / p.groups * p.h * p.w) {}
  // First element of group g of sample n in a dense NCHW array.
  int64_t base(const GroupNormProblem& p, int64_t n, int64_t g) const { return (n * p.c + g * channels_per_group) * hw; }
};

}  // namespace

GroupNormOutputs groupnorm_forward(const GroupNormProblem& p, const std::vector<double>& x,
                                   const std::vector<double>& gamma, const std::vector<double>& beta) {
  GroupIndexing gi(p);
  GroupNormOutputs o;
  o.y.resize(x.size());
  o.mean.resize(p.n * p.groups);
  o.rstd.resize(p.n * p.groups);
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t g = 0; g < p.groups; ++g) {
      int64_t b = gi.base(p, n, g);
      double sum = 0;
      for (int64_t i = 0; i < gi.size; ++i) sum += x[b + i];
      double mean = sum / gi.size;
      double sq = 0;
      for (int64_t i = 0; i < gi.size; ++i) sq += (x[b + i] - mean) * (x[b + i] - mean);
      double rstd = 1.0 / std::sqrt(sq / gi.size + p.eps);
      o.mean[n * p.groups + g] = mean;
      o.rstd[n * p.groups + g] = rstd;
      for (int64_t i = 0; i < gi.size; ++i) {
        int64_t c = g * gi.channels_per_group + i / gi.hw;
        double z = gamma[c] * (x[b + i] - mean) * rstd + beta[c];
        o.y[b + i] = p.fused_silu ? silu(z) : z;
      }
    }
  return o;
}

GroupNormGradients groupnorm_backward(const GroupNormProblem& p, const std::vector<double>& x,
                                      const std::vector<double>& gamma, const std::vector<double>& beta,
                                      const std::vector<double>& dy) {
  GroupIndexing gi(p);
  GroupNormOutputs fwd = groupnorm_forward(p, x, gamma, beta);
  GroupNormGradients grads{std::vector<double>(x.size()), std::vector<double>(p.c, 0.0), std::vector<double>(p.c, 0.0)};
  std::vector<double> xhat(gi.size), dxhat(gi.size);
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t g = 0; g < p.groups; ++g) {
      int64_t b = gi.base(p, n, g);
      double mean = fwd.mean[n * p.groups + g], rstd = fwd.rstd[n * p.groups + g];
      double sum_dxhat = 0, sum_dxhat_xhat = 0;
      for (int64_t i = 0; i < gi.size; ++i) {
        int64_t c = g * gi.channels_per_group + i / gi.hw;
        xhat[i] = (x[b + i] - mean) * rstd;
        double dz = dy[b + i];
        if (p.fused_silu) dz *= silu_derivative(gamma[c] * xhat[i] + beta[c]);
        grads.dbeta[c] += dz;
        grads.dgamma[c] += dz * xhat[i];
        dxhat[i] = dz * gamma[c];
        sum_dxhat += dxhat[i];
        sum_dxhat_xhat += dxhat[i] * xhat[i];
      }
      // d/dx of the normalization: the mean and variance depend on every element of the group.
      for (int64_t i = 0; i < gi.size; ++i)
        grads.dx[b + i] = rstd * (dxhat[i] - sum_dxhat / gi.size - xhat[i] * sum_dxhat_xhat / gi.size);
    }
  return grads;
}

}  // namespace tessera::reference
