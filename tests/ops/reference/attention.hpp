// CPU double-precision reference for ops::attention_forward / attention_backward, with the
// layouts documented in tessera/ops/attention.hpp (qkv [N, 3C, T], o [N, C, T], probs [N, heads, T, T]).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace tessera::reference {

struct AttentionShape {
  int64_t samples = 0, channels = 0, tokens = 0, heads = 1;  // head dim = channels / heads
};

struct AttentionOutputs {
  std::vector<double> o, probs;
};
AttentionOutputs attention_forward(std::span<const double> qkv, const AttentionShape& shape);

// dL/dqkv given dL/do.
std::vector<double> attention_backward(std::span<const double> qkv, std::span<const double> d_o,
                                       const AttentionShape& shape);

}  // namespace tessera::reference
