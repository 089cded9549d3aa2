#version 450
// Shades the material preview: albedo (sRGB as stored, decoded to linear), the tangent-space
// normal map (n * 0.5 + 0.5, OpenGL convention, = world normal on this quad) and roughness
// (0 = mirror-smooth) under one point light, with the usual real-time microfacet model: GGX
// distribution with alpha = roughness^2, Smith-Schlick visibility, Schlick Fresnel with a
// dielectric F0 of 0.04, plus Lambert diffuse and a small sky term so the unlit side keeps its
// relief. The result is tone mapped (1 - exp(-x)) and encoded to sRGB by hand: the swapchain is
// UNORM, as ImGui's colours expect.
layout(set = 0, binding = 0) uniform sampler2D albedo_map;
layout(set = 0, binding = 1) uniform sampler2D normal_map;
layout(set = 0, binding = 2) uniform sampler2D roughness_map;
layout(push_constant) uniform Lit {
  vec4 light;   // xyz: light position, w: its intensity
  vec4 eye;     // xyz: camera position, w: focal length
  vec4 target;  // xyz: camera target, w: texture repeats
} lit;
layout(location = 0) in vec3 world;
layout(location = 1) in vec2 uv;
layout(location = 0) out vec4 color;

const float kPi = 3.14159265;

vec3 srgb_to_linear(vec3 c) {
  return mix(c / 12.92, pow((c + 0.055) / 1.055, vec3(2.4)), step(vec3(0.04045), c));
}
vec3 linear_to_srgb(vec3 c) {
  return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(vec3(0.0031308), c));
}

void main() {
  vec3 base = srgb_to_linear(texture(albedo_map, uv).rgb);
  vec3 n = normalize(texture(normal_map, uv).xyz * 2.0 - 1.0);
  // Below ~0.045 the GGX lobe is narrower than a texel's worth of normals can resolve.
  float roughness = clamp(texture(roughness_map, uv).r, 0.045, 1.0);
  float alpha = roughness * roughness;

  vec3 to_light = lit.light.xyz - world;
  float distance2 = dot(to_light, to_light);
  vec3 l = to_light * inversesqrt(distance2);
  vec3 v = normalize(lit.eye.xyz - world);
  vec3 h = normalize(l + v);
  float n_l = max(dot(n, l), 0.0), n_v = max(dot(n, v), 1e-4), n_h = max(dot(n, h), 0.0);
  float v_h = max(dot(v, h), 0.0);

  float a2 = alpha * alpha;
  float d = n_h * n_h * (a2 - 1.0) + 1.0;
  float distribution = a2 / (kPi * d * d);
  float k = alpha * 0.5;
  float visibility = 1.0 / ((n_l * (1.0 - k) + k) * (n_v * (1.0 - k) + k) * 4.0);
  float fresnel = 0.04 + 0.96 * pow(1.0 - v_h, 5.0);
  float specular = distribution * visibility * fresnel;
  vec3 diffuse = base * (1.0 - fresnel) / kPi;

  vec3 radiance = vec3(lit.light.w / distance2);
  vec3 sky = base * (0.05 + 0.05 * n.z);
  vec3 c = (diffuse + specular) * radiance * n_l + sky;
  color = vec4(linear_to_srgb(1.0 - exp(-c)), 1.0);
}
