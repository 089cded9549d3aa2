#version 450
// Puts the forward-noised known image into x, for img2img starts and inpainting:
//   noised = a known + b zk                                (a = sqrt(alpha_bar), b = sqrt(1 - alpha_bar))
//   x      = noised                                        (USE_KEEP = 0: everywhere, img2img start)
//   x      = x (1 - keep) + noised keep                    (USE_KEEP = 1: keep [H, W] in [0, 1])
// keep = 1 stores `noised` exactly, so at the final step (a = 1, b = 0) known pixels are kept
// bit for bit. known is one image [C, H, W] shared by the whole batch.
// Indexing: one invocation per element of x [N, C, H, W] (dense), 1-D dispatch.
#include "common.glsl"
#include "portable_math.glsl"

layout(constant_id = 3) const uint USE_KEEP = 1;

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Known { float known[]; };  // [C, H, W]
layout(std430, binding = 2) readonly buffer Zk { float zk[]; };        // [N, C, H, W]
layout(std430, binding = 3) readonly buffer Keep { float keep[]; };    // [H, W]

layout(push_constant) uniform Push {
  uint total;
  uint image_elements;  // C * H * W
  uint plane_elements;  // H * W
  float a, b;
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.total) return;
  uint in_image = i % pc.image_elements;
#if PORTABLE
  float noised = pm_add(pm_mul(pc.a, pm_flush(known[in_image])), pm_mul(pc.b, pm_flush(zk[i])));
#else
  float noised = pc.a * known[in_image] + pc.b * zk[i];
#endif
  if (USE_KEEP == 0) {
    x[i] = noised;
    return;
  }
  float k = keep[in_image % pc.plane_elements];
  if (k >= 1.0) x[i] = noised;          // exact, whatever x holds
#if PORTABLE
  else if (k > 0.0) x[i] = pm_add(pm_mul(pm_flush(x[i]), pm_sub(1.0, k)), pm_mul(noised, k));
#else
  else if (k > 0.0) x[i] = x[i] * (1.0 - k) + noised * k;
#endif
}
