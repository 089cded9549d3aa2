#version 450
// Float NCHW image in [-1, 1] (C = 3 or 4) -> packed RGBA8, one u32 per pixel, R in the low
// byte: byte = round-half-up((x + 1) * 127.5) clamped to [0, 255]; alpha = 255 when C = 3.
// (x + 1) * 127.5 is formed with one rounding (fma) and the half-up decision is exact on that
// f32 value (floor + fraction compare, no v + 0.5 that could itself round up); only an x
// within half an f32 ulp of v (<= 2^-17 in byte units) of a .5 boundary can land on either
// side. NaN maps to 0.
// Indexing: one invocation per pixel (n, y, x), 1-D over x/y.
#include "common.glsl"
#include "portable_math.glsl"

layout(std430, binding = 0) readonly buffer Image { float image[]; };
layout(std430, binding = 1) writeonly buffer Packed { uint packed_pixels[]; };

layout(push_constant) uniform Push {
  uint n;  // N * H * W
  uint plane;  // H * W
  uint channels;
} pc;

uint to_byte(float x) {
#if PORTABLE
  float v = pm_add(pm_mul(pm_flush(x), 127.5), 127.5);  // fma may round once or twice: not portable
#else
  float v = fma(x, 127.5, 127.5);
#endif
  if (isnan(v)) return 0u;
  v = clamp(v, 0.0, 255.0);
  float whole = floor(v);
  return uint(whole) + (v - whole >= 0.5 ? 1u : 0u);
}

void main() {
  uint pixel = flat_global_index();
  if (pixel >= pc.n) return;
  uint sample_index = pixel / pc.plane;
  uint offset = pixel - sample_index * pc.plane;
  uint base = sample_index * pc.channels * pc.plane + offset;
  uint r = to_byte(image[base]);
  uint g = to_byte(image[base + pc.plane]);
  uint b = to_byte(image[base + 2 * pc.plane]);
  uint a = pc.channels == 4 ? to_byte(image[base + 3 * pc.plane]) : 255u;
  packed_pixels[pixel] = r | (g << 8) | (b << 16) | (a << 24);
}
