// CPU double-precision reference for nearest-neighbour 2x upsampling (dense NCHW).
#pragma once
#include <cstdint>
#include <vector>

namespace tessera::reference {

// x [N,C,H,W] -> y [N,C,2H,2W]
std::vector<double> upsample_nearest2x_forward(const std::vector<double>& x, int64_t n, int64_t c, int64_t h, int64_t w);
// dy [N,C,2H,2W] -> dx [N,C,H,W]
std::vector<double> upsample_nearest2x_backward(const std::vector<double>& dy, int64_t n, int64_t c, int64_t h,
                                                int64_t w);

}  // namespace tessera::reference
