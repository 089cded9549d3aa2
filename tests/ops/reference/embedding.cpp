#include "ops/reference/embedding.hpp"

namespace tessera::reference {

std::vector<double> embedding_forward(const std::vector<double>& table, int64_t rows, int64_t dim,
                                      const std::vector<uint32_t>& labels) {
  std::vector<double> out(labels.size() * size_t(dim), 0.0);
  for (size_t n = 0; n < labels.size(); ++n)
    if (labels[n] < rows)
      for (int64_t c = 0; c < dim; ++c) out[n * dim + c] = table[labels[n] * dim + c];
  return out;
}

std::vector<double> embedding_backward(const std::vector<uint32_t>& labels, const std::vector<double>& dout,
                                       int64_t rows, int64_t dim) {
  std::vector<double> dtable(size_t(rows * dim), 0.0);
  for (size_t n = 0; n < labels.size(); ++n)
    if (labels[n] < rows)
      for (int64_t c = 0; c < dim; ++c) dtable[labels[n] * dim + c] += dout[n * dim + c];
  return dtable;
}

}  // namespace tessera::reference
