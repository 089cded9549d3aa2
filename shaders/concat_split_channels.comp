#version 450
// Backward of concat_channels: da = dout[:, 0:Ca], db = dout[:, Ca:Ca+Cb], each overwritten or
// (accumulate) added to. Indexing as in concat_channels.comp: one invocation per element p of
// dout's sample n (gl_WorkGroupID.z); dout read as texels.
#include "common.glsl"

layout(binding = 0) uniform samplerBuffer dout;
layout(std430, binding = 1) buffer Da { float da[]; };
layout(std430, binding = 2) buffer Db { float db[]; };

layout(push_constant) uniform Push {
  uint per_sample;
  uint a_per_sample;
  uint dout_batch_stride;
  uint da_batch_stride;
  uint db_batch_stride;
  uint accumulate;
} pc;

void main() {
  uint p = flat_global_index();
  if (p >= pc.per_sample) return;
  uint n = gl_WorkGroupID.z;
  float grad = texelFetch(dout, int(n * pc.dout_batch_stride + p)).x;
  if (p < pc.a_per_sample) {
    uint i = n * pc.da_batch_stride + p;
    da[i] = pc.accumulate != 0u ? da[i] + grad : grad;
  } else {
    uint i = n * pc.db_batch_stride + p - pc.a_per_sample;
    db[i] = pc.accumulate != 0u ? db[i] + grad : grad;
  }
}
