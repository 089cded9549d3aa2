#version 450
// Samples the generated texture (RGBA8, nearest filtering so single texels stay visible when
// zoomed in, repeat addressing for tiling).
layout(set = 0, binding = 0) uniform sampler2D image;
layout(location = 0) in vec2 uv;
layout(location = 0) out vec4 color;
void main() { color = vec4(texture(image, uv).rgb, 1.0); }
