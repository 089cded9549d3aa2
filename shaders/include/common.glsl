// Shared by every Tessera compute shader.
// Local size comes from specialization constants 0..2 so the host picks tile shapes per
// device; shader-specific constants start at id 3.
#ifndef TESSERA_COMMON_GLSL
#define TESSERA_COMMON_GLSL

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

// Flat index of this invocation across a 1-D dispatch whose groups may be spread over
// x and y (x capped at 65535 groups on some devices).
uint flat_global_index() {
  return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
}

// Kernels built in a scalar and a four-wide form (ELEMENT_WIDTH 1 or 4, set by their rows in
// shaders/variants.txt) declare their per-element values as element_t.
#ifdef ELEMENT_WIDTH
#if ELEMENT_WIDTH == 4
#define element_t vec4
#elif ELEMENT_WIDTH == 1
#define element_t float
#else
#error "ELEMENT_WIDTH must be 1 or 4 (set by the kernel's row in shaders/variants.txt)"
#endif
#endif

float silu(float x) { return x / (1.0 + exp(-x)); }
float sigmoid(float x) { return 1.0 / (1.0 + exp(-x)); }

#endif
