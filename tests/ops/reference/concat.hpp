// CPU reference for channel concat / split of dense NCHW arrays (exact copies).
#pragma once
#include <cstdint>
#include <vector>

namespace tessera::reference {

// a [N,Ca,HW], b [N,Cb,HW] -> [N,Ca+Cb,HW]
std::vector<double> concat_channels(const std::vector<double>& a, const std::vector<double>& b, int64_t n, int64_t ca,
                                    int64_t cb, int64_t hw);
// [N,Ca+Cb,HW] -> channels [first, first+count) as a dense [N,count,HW]
std::vector<double> slice_channels(const std::vector<double>& t, int64_t n, int64_t channels, int64_t first,
                                   int64_t count, int64_t hw);

}  // namespace tessera::reference
