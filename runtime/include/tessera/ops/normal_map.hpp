// Tangent-space normal map derived from a height map (SPEC §12: normals are not generated, they
// are derived from the generated height on the GPU, so they always agree with it). No backward:
// normals are not trained.
//
// Input range. `height` is in the model's value range, x in [-1, 1], the way the model's height
// channel and load_image() of a 16-bit height PNG carry it: h01 = (x + 1) / 2 is the height in
// [0, 1] of SPEC §12, and the height in texels is h01 * strength. The op takes x directly, with
// no scale/offset arguments, so a Sampler's output channel view (e.g. channel 3 of an
// albedo+height+roughness image) is passed as it is, without a conversion dispatch or a copy.
// An offset changes no difference, so only the scale matters: a caller holding heights already
// in [0, 1] gets the same normals by passing them with 2 * strength. Values outside [-1, 1] are
// not clamped (the op is linear in x; the sampler clips x̂0 to [-1, 1] anyway).
//
// Math (wrap-around central differences, rows go down, so the normals tile like the height):
//   k = strength / 2 (texels per unit of x: h_texels = (x + 1) / 2 * strength)
//   p = (x[y][x+1] - x[y][x-1]) / 2 * k     slope along +column (dh/dx in texels per texel)
//   q = (x[y+1][x] - x[y-1][x]) / 2 * k     slope along +row, i.e. downwards in the image
//   OpenGL (+X right, +Y up, +Z out of the surface):  n = normalize(-p, +q, 1)
//   DirectX (+Y down, green flipped):                  n = normalize(-p, -q, 1)
// with indices taken modulo W and H (a 1- or 2-texel-wide axis therefore has zero slope). This
// inverts the material set's height construction (data/materials-train/README.md steps 4-5):
// there the GL-convention normal map gives slopes p = -nx/nz, q = ny/nz (rows down), which are
// integrated to the height, and height in texels = png/65535 * height_range_texels; here
// (-p, q, 1) / |(-p, q, 1)| has exactly those ratios -nx/nz = p, ny/nz = q, in the same units.
// (The data's normals are not reproduced bit for bit: the integration keeps only the curl-free
// part of the source normal map and clipped nz at 0.15, and central differences are not the
// FFT's spectral derivative.) Normalisation uses GLSL inversesqrt.
//
// For the material set: the strength of a data sample is its manifest.csv
// height_range_texels_128 / _64 (README table: medians 1-10 texels at 128 px); at another
// resolution, scale it with the size (the range is in texels of the stored image).
//
// Writing an 8-bit normal PNG: normals are unit vectors in [-1, 1], the range planes_to_rgba8
// (tessera/image_io.hpp) encodes as round-half-up((n + 1) * 127.5) with alpha 255, so a
// [N, 3, H, W] normal tensor goes through it unchanged; a flat height gives (0, 0, 1) = RGB
// (128, 128, 255).
#pragma once
#include <cstdint>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

enum class NormalConvention : uint32_t {
  OpenGL = 0,   // +Y up (green = up); SPEC §12's default
  DirectX = 1,  // +Y down (green flipped)
};

// height f32 [N, 1, H, W] in [-1, 1] -> normal f32 [N, 3, H, W] (x, y, z planes), unit vectors.
// strength: the height range in texels (finite, >= 0; 0 gives flat (0, 0, 1) normals). Either
// tensor may be a batch-strided view (Tensor::channel_slice); normal must not share elements with
// height. Throws ShapeError naming the tensor or value that does not fit. One dispatch.
void normal_map_from_height(CommandSequence& seq, const Tensor& height, const Tensor& normal, float strength,
                            NormalConvention convention = NormalConvention::OpenGL);

}  // namespace tessera::ops
