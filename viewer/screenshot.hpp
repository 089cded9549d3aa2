// PNG output for the viewer: screenshots of the window and saved textures.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::viewer {

// Writes RGBA8 pixels as a PNG, atomically (temp file, then rename); throws naming the path.
void write_png(const std::string& path, const std::vector<uint8_t>& rgba, int width, int height);

}  // namespace tessera::viewer
