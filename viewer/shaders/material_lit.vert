#version 450
// The lit material preview's ground quad (material_preview.hpp): a square of side 2 in the plane
// z = 0, seen in perspective from the camera in the push constants. World axes are the tangent
// frame (+X right, +Y away from the viewer = up in the image, +Z out of the surface), so the
// OpenGL-convention normal map needs no TBN matrix: texture v grows down the image, towards -Y.
// 4 vertices as a triangle strip, no vertex buffer; the viewport is the preview's square.
layout(push_constant) uniform Lit {
  vec4 light;   // xyz: light position, w: its intensity
  vec4 eye;     // xyz: camera position, w: focal length (1 / tan(half the vertical field of view))
  vec4 target;  // xyz: the point the camera looks at, w: texture repeats across the quad
} lit;
layout(location = 0) out vec3 world;
layout(location = 1) out vec2 uv;
void main() {
  vec2 corner = vec2(gl_VertexIndex & 1, gl_VertexIndex >> 1);
  world = vec3(corner.x * 2.0 - 1.0, 1.0 - corner.y * 2.0, 0.0);
  uv = corner * lit.target.w;
  vec3 forward = normalize(lit.target.xyz - lit.eye.xyz);
  vec3 right = normalize(cross(forward, vec3(0.0, 0.0, 1.0)));
  vec3 up = cross(right, forward);
  vec3 d = world - lit.eye.xyz;
  // Vulkan clip space: y points down; depth is constant (no depth buffer, one quad).
  gl_Position = vec4(dot(d, right) * lit.eye.w, -dot(d, up) * lit.eye.w, 0.0, dot(d, forward));
}
