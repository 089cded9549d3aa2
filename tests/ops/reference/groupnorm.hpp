// CPU double-precision reference for GroupNorm (+ optional SiLU), forward and backward, on dense
// NCHW arrays.
#pragma once
#include <cstdint>
#include <vector>

namespace tessera::reference {

struct GroupNormProblem {
  int64_t n, c, h, w, groups;
  double eps = 1e-5;
  bool fused_silu = false;
};

struct GroupNormOutputs {
  std::vector<double> y;     // [N,C,H,W]
  std::vector<double> mean;  // [N,G]
  std::vector<double> rstd;  // [N,G], 1/sqrt(var + eps), biased variance
};

struct GroupNormGradients {
  std::vector<double> dx, dgamma, dbeta;
};

GroupNormOutputs groupnorm_forward(const GroupNormProblem& p, const std::vector<double>& x,
                                   const std::vector<double>& gamma, const std::vector<double>& beta);

// Analytic gradients of sum(y * dy) with respect to x, gamma and beta.
GroupNormGradients groupnorm_backward(const GroupNormProblem& p, const std::vector<double>& x,
                                      const std::vector<double>& gamma, const std::vector<double>& beta,
                                      const std::vector<double>& dy);

}  // namespace tessera::reference
