// Errors raised by the runtime. Every message names what went wrong and with which value,
// so a user can act on it without a debugger.
#pragma once
#include <stdexcept>
#include <string>

namespace tessera {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A Vulkan call failed; the message includes the call and the VkResult name.
class VulkanError : public Error {
 public:
  VulkanError(const std::string& what, int vk_result);
  int result() const { return result_; }

 private:
  int result_;
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

const char* vk_result_name(int vk_result);

}  // namespace tessera
