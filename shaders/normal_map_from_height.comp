#version 450
// Tangent-space normal map from a height map (runtime/include/tessera/ops/normal_map.hpp has the
// full contract): height x in [-1, 1], wrap-around central differences
//   p = (x[y][x+1] - x[y][x-1]) * slope_scale,  q = (x[y+1][x] - x[y-1][x]) * slope_scale
// with slope_scale = strength / 4 (a central difference halves, and h01 = (x + 1) / 2 halves
// again), n = normalize(-p, y_sign * q, 1): y_sign = +1 OpenGL (+Y up, rows go down), -1 DirectX.
// Neighbours wrap modulo W and H so the normals tile like the height.
// Indexing: height [N, 1, H, W] and normal [N, 3, H, W] f32 NCHW with batch strides (views
// allowed). One invocation per pixel i = y * W + x of sample n (gl_WorkGroupID.z): four texel
// fetches (lavapipe vectorizes texel fetches, not storage loads), three plane stores.
#include "common.glsl"
#include "portable_math.glsl"

layout(binding = 0) uniform samplerBuffer height;
layout(std430, binding = 1) writeonly buffer Normal { float normal[]; };

layout(push_constant) uniform Push {
  uint width;
  uint rows;
  uint height_batch_stride;
  uint normal_batch_stride;
  float slope_scale;  // strength / 4
  float y_sign;       // +1 OpenGL, -1 DirectX
} pc;

float at(uint base, uint row, uint column) { return texelFetch(height, int(base + row * pc.width + column)).x; }

void main() {
  uint plane = pc.width * pc.rows;
  uint i = flat_global_index();
  if (i >= plane) return;
  uint n = gl_WorkGroupID.z;
  uint row = i / pc.width;
  uint column = i - row * pc.width;
  uint left = column == 0 ? pc.width - 1 : column - 1;
  uint right = column + 1 == pc.width ? 0 : column + 1;
  uint up = row == 0 ? pc.rows - 1 : row - 1;
  uint down = row + 1 == pc.rows ? 0 : row + 1;
  uint base = n * pc.height_batch_stride;
#if PORTABLE
  // docs/portable.md's normal_map_from_height: portable rsqrt, flushed add/mul.
  {
    float p = pm_mul(pm_sub(pm_flush(at(base, row, right)), pm_flush(at(base, row, left))), pc.slope_scale);
    float q = pm_mul(pm_sub(pm_flush(at(base, down, column)), pm_flush(at(base, up, column))), pc.slope_scale);
    float vx = pm_neg(p), vy = pm_mul(pc.y_sign, q);
    float r = pm_rsqrt(pm_add(pm_add(pm_mul(vx, vx), pm_mul(vy, vy)), 1.0));
    uint o = n * pc.normal_batch_stride + i;
    normal[o] = pm_mul(vx, r);
    normal[o + plane] = pm_mul(vy, r);
    normal[o + 2 * plane] = r;
    return;
  }
#endif
  float p = (at(base, row, right) - at(base, row, left)) * pc.slope_scale;
  float q = (at(base, down, column) - at(base, up, column)) * pc.slope_scale;
  vec3 v = vec3(-p, pc.y_sign * q, 1.0);
  vec3 unit = v * inversesqrt(dot(v, v));
  uint o = n * pc.normal_batch_stride + i;
  normal[o] = unit.x;
  normal[o + plane] = unit.y;
  normal[o + 2 * plane] = unit.z;
}
