// The ground's lighting: the albedo Tessera generated, lit per pixel by a point light that hovers
// over the player, with the generated normal map (tangent space, requested in DirectX's +Y-down
// convention so that it matches screen space, whose y points down), the height (crevices get less
// ambient light and sit lower under the light) and the roughness (highlights on smooth parts).
// Everything is in screen pixels: a top-down view needs no other space.
extern Image normal_map;  // RGB = n * 0.5 + 0.5
extern Image surface_map; // R = height [0, 1], G = roughness [0, 1]
extern vec3 light_pos;    // screen pixels; z = the light's height over the ground
extern float light_radius;
extern float relief;      // the height map's range, in pixels

vec4 effect(vec4 color, Image albedo, vec2 uv, vec2 pixel) {
  vec3 base = Texel(albedo, uv).rgb;
  vec3 n = normalize(Texel(normal_map, uv).rgb * 2.0 - 1.0);
  vec2 hr = Texel(surface_map, uv).rg;
  vec3 to_light = light_pos - vec3(pixel, hr.r * relief);
  float d = length(to_light);
  vec3 l = to_light / d;
  float falloff = 1.0 / (1.0 + (d * d) / (light_radius * light_radius));
  float diffuse = max(dot(n, l), 0.0);
  vec3 h = normalize(l + vec3(0.0, 0.0, 1.0));
  float gloss = 1.0 - hr.g;
  float specular = pow(max(dot(n, h), 0.0), mix(4.0, 48.0, gloss)) * gloss * 0.6;
  float ambient = 0.4 * mix(0.6, 1.0, hr.r);
  vec3 lit = base * (ambient + diffuse * falloff * vec3(1.0, 0.95, 0.85) * 1.1) + specular * falloff;
  return vec4(lit, 1.0) * color;
}
