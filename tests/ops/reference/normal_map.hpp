// CPU double-precision reference for normal_map_from_height (dense NCHW), written from the
// definition in tessera/ops/normal_map.hpp: height in texels first, then slopes, then normals.
#pragma once
#include <cstdint>
#include <vector>

namespace tessera::reference {

// height x [N,1,H,W] in [-1,1] -> normal [N,3,H,W]. h_texels = (x + 1) / 2 * strength; central
// differences modulo W and H (rows go down); (-p, q, 1) normalised, or (-p, -q, 1) when directx.
std::vector<double> normal_map_from_height(const std::vector<double>& height, int64_t n, int64_t h, int64_t w,
                                           double strength, bool directx);

}  // namespace tessera::reference
