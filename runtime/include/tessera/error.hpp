// Errors raised by the runtime. Every message names what went wrong and with which value,
// so a user can act on it without a debugger. Header-only and free of Vulkan, so that every
// layer (data/, model/, the fuzz targets) can throw them; VulkanError, which names a VkResult,
// lives with the Vulkan layer in tessera/vulkan_error.hpp.
#pragma once
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tessera {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An arena could not satisfy an allocation.
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

// The device lacks something a kernel or option needs.
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

// Shapes, dtypes or arguments passed to an op do not fit together.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A file's contents are malformed. problems() lists every problem found (a loader collects
// them all rather than stopping at the first); what() is "<source>: <n> problems: a; b; ...".
class FormatError : public Error {
 public:
  FormatError(const std::string& source, std::vector<std::string> problems)
      : Error(join(source, problems)), source_(source), problems_(std::move(problems)) {}
  const std::string& source() const { return source_; }
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  static std::string join(const std::string& source, const std::vector<std::string>& problems) {
    std::string text = source + ": ";
    if (problems.size() != 1) text += std::to_string(problems.size()) + " problems: ";
    for (size_t i = 0; i < problems.size(); ++i) text += (i ? "; " : "") + problems[i];
    return text;
  }
  std::string source_;
  std::vector<std::string> problems_;
};

}  // namespace tessera
