#version 450
// Draws one screen rectangle as a 4-vertex triangle strip (no vertex buffer): corner i of the
// rectangle given in normalized device coordinates, with texture coordinates interpolated
// between uv0 and uv1. uv ranges wider than [0, 1] tile the texture through a repeat sampler,
// which is how the viewer shows 3x3 tiling, zoom and pan.
layout(push_constant) uniform Quad {
  vec2 ndc0, ndc1;  // top-left and bottom-right corners
  vec2 uv0, uv1;
} quad;
layout(location = 0) out vec2 uv;
void main() {
  vec2 corner = vec2(gl_VertexIndex & 1, gl_VertexIndex >> 1);
  uv = mix(quad.uv0, quad.uv1, corner);
  gl_Position = vec4(mix(quad.ndc0, quad.ndc1, corner), 0.0, 1.0);
}
