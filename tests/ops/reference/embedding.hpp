// CPU double-precision reference of the embedding lookup and its backward.
#pragma once
#include <cstdint>
#include <cstddef>
#include <vector>

namespace tessera::reference {

// out [N, dim]; labels >= rows give a zero row.
std::vector<double> embedding_forward(const std::vector<double>& table, int64_t rows, int64_t dim,
                                      const std::vector<uint32_t>& labels);
// dtable [rows, dim] = scatter-add of dout rows by label; labels >= rows ignored.
std::vector<double> embedding_backward(const std::vector<uint32_t>& labels, const std::vector<double>& dout,
                                       int64_t rows, int64_t dim);

}  // namespace tessera::reference
