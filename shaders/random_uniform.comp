#version 450
// Fills a dense f32 tensor with uniforms in (0, 1): result[i] = uniform(seed, stream, offset + i),
// bit-identical to tessera::rng::uniform on the CPU (shaders/include/philox.glsl).
// (seed, stream) are read from a device u32 key tensor, words [3*key_slot, 3*key_slot+3) =
// (seed_lo, seed_hi, stream), so a recorded command buffer is replayed with fresh noise by
// rewriting the key tensor only.
// Indexing: invocation g computes Philox block first_block + g (four numbers) and writes the
// ones that fall inside [offset, offset + n); first_block = offset / 4, so the dispatch has
// ceil((offset % 4 + n) / 4) invocations, 1-D over x/y (flat_global_index).
#include "common.glsl"
#include "philox.glsl"

layout(std430, binding = 0) readonly buffer Keys { uint keys[]; };
layout(std430, binding = 1) writeonly buffer Out { float result[]; };

layout(push_constant) uniform Push {
  uint n;          // elements to write
  uint offset_lo;  // element index of result[0], 64-bit
  uint offset_hi;
  uint key_slot;
} pc;

void main() {
  uint g = flat_global_index();
  uint lead = pc.offset_lo & 3u;
  if (g >= (lead + pc.n + 3u) >> 2) return;
  uvec3 key = uvec3(keys[3u * pc.key_slot], keys[3u * pc.key_slot + 1u], keys[3u * pc.key_slot + 2u]);
  uvec2 block = rng_index_add(rng_block_of(uvec2(pc.offset_lo, pc.offset_hi)), g);
  vec4 values = rng_uniforms_of_block(philox_block(key, block));
  for (uint w = 0u; w < 4u; ++w) {
    uint slot = 4u * g + w;  // position counted from the start of the first block
    if (slot >= lead && slot - lead < pc.n) result[slot - lead] = values[w];
  }
}
