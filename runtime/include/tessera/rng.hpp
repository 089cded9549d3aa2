// Counter-based random numbers: Philox4x32-10 + Box-Muller, bit-identical on the CPU (this
// file, runtime/src/rng/philox.cpp) and on every conformant Vulkan device
// (shaders/include/philox.glsl). Training noise, dropout and sampler noise come from here, so
// the same seed reproduces the same run on any device and in the CPU reference.
//
// Keying. A number is named by (seed: u64, stream: u32, index: u64):
//   Philox key     = (seed & 0xffffffff, seed >> 32)
//   Philox counter = (block & 0xffffffff, block >> 32, stream, 0),  block = index / 4
// and element `index` uses word index % 4 of that block. Uniforms and normals with the same
// (seed, stream) draw on the same blocks: give them different streams to keep them independent.
// Counter word 3 is 0 and reserved (room for, e.g., texel-coordinate keying of streamed textures).
//
// Uniform (one word x):  u = (float(x >> 9) + 0.5) * 2^-23, every value exact, u in (0, 1),
//   symmetric (u and 1-u equally likely). 23 bits, not 24: (m + 0.5) * 2^-24 with a 24-bit m
//   needs 25 significant bits, so it would round (and reach 1.0 at the top).
// Normal (Box-Muller on words (x0, x1) for elements 4b and 4b+1, (x2, x3) for 4b+2 and 4b+3):
//   u1 = uniform(x0) in [2^-24, 1 - 2^-24]        (so |z| <= sqrt(-2 ln 2^-24) = 5.77)
//   a  = x1 >> 8, theta = 2 pi (a + 1/2) / 2^24    (24-bit angle, octant = top 3 bits; the
//                                                   half step keeps every z nonzero)
//   r  = sqrt(-2 ln u1);  element 4b+0 = r cos(theta), 4b+1 = r sin(theta)  (same for 2, 3)
//
// Bit-exactness. GPU log/sin/cos/sqrt are not correctly rounded (and differ by vendor), and
// compilers fuse a*b+c. So log, sincos and sqrt are evaluated here from float add/sub/mul (each
// correctly rounded on every Vulkan device), exact integer/bit operations and exact int->float
// conversions only: no division, no built-in transcendental, no fma (this file's .cpp is built
// with -ffp-contract=off; the shader marks its floats `precise` => SPIR-V NoContraction), and
// no denormal ever appears (GPUs may flush them). Polynomial coefficients are fitted by
// tools/fit_rng_polynomials.py. Accuracy (max relative error vs double, measured by
// tests/runtime/test_rng.cpp): log 1.3e-7, sqrt 9e-8, sin/cos 1.3e-7, normals 1.8e-7 of the
// radius r. The noise needs ~1e-6; what matters is that every device rounds identically.
#pragma once
#include <array>
#include <cstdint>
#include <span>

namespace tessera::rng {

using PhiloxCounter = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

// The Philox4x32 bijection with 10 rounds (Salmon et al., SC'11), as in Random123.
PhiloxCounter philox4x32_10(PhiloxCounter counter, PhiloxKey key);

// The Philox block holding elements [4*block, 4*block+4) of (seed, stream).
PhiloxCounter philox_block(uint64_t seed, uint32_t stream, uint64_t block);

// The three u32 words a device key tensor holds for (seed, stream): seed_lo, seed_hi, stream.
std::array<uint32_t, 3> key_words(uint64_t seed, uint32_t stream);

// One 32-bit word -> uniform float in (0, 1) (see the header comment).
float uniform_from_bits(uint32_t x);
// Box-Muller on two words: {r cos(theta), r sin(theta)}.
std::array<float, 2> normal_pair_from_bits(uint32_t radius_word, uint32_t angle_word);

float uniform(uint64_t seed, uint32_t stream, uint64_t index);
float normal(uint64_t seed, uint32_t stream, uint64_t index);

// out[i] = uniform/normal(seed, stream, index_offset + i); one Philox call per 4 elements.
void fill_uniform(std::span<float> out, uint64_t seed, uint32_t stream, uint64_t index_offset = 0);
void fill_normal(std::span<float> out, uint64_t seed, uint32_t stream, uint64_t index_offset = 0);

// The device-independent math behind normal_pair_from_bits, exposed for accuracy tests.
namespace exact_math {
// Natural log of a positive normal float (x >= 2^-126).
float log_positive(float x);
// Square root of a float in [2^-100, 2^100]; mul/add Newton iterations only.
float sqrt_positive(float x);
// {sin, cos} of 2 pi * (angle24 + 1/2) / 2^24 for angle24 < 2^24; never 0.
std::array<float, 2> sincos_turns24(uint32_t angle24);
}  // namespace exact_math

}  // namespace tessera::rng
