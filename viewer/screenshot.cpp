#include "screenshot.hpp"

#include <stb/stb_image_write.h>  // implementation in Debian's libstb
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace tessera::viewer {

void write_png(const std::string& path, const std::vector<uint8_t>& rgba, int width, int height) {
  if (rgba.size() != size_t(width) * height * 4) throw std::runtime_error("write_png: pixel count does not match size");
  std::string temp = path + ".tmp" + std::to_string(::getpid());
  if (!stbi_write_png(temp.c_str(), width, height, 4, rgba.data(), width * 4)) {
    std::remove(temp.c_str());
    throw std::runtime_error("cannot write " + path + " (is the folder there and writable?)");
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + reason);
  }
}

}  // namespace tessera::viewer
