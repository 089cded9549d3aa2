#include "tessera/tensor.hpp"

#include <sstream>

#include "tessera/arena.hpp"
#include "tessera/error.hpp"

namespace tessera {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
    case DType::U32:
    case DType::I32:
      return 4;
    case DType::F16:
      return 2;
    case DType::U8:
      return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::U32: return "u32";
    case DType::I32: return "i32";
    case DType::U8: return "u8";
  }
  return "?";
}

std::string shape_string(const Shape& s) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < s.size(); ++i) o << (i ? "," : "") << s[i];
  o << ']';
  return o.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Tensor Tensor::unbound(const Shape& shape, DType dtype, std::string name) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.batch_stride_ = shape.empty() ? 0 : shape_numel(shape) / shape[0];
  t.name_ = std::move(name);
  return t;
}

VkBuffer Tensor::buffer() const { return arena_ ? arena_->buffer() : VK_NULL_HANDLE; }

int64_t Tensor::dim(int i) const {
  int r = rank();
  int j = i < 0 ? r + i : i;
  if (j < 0 || j >= r) throw ShapeError("tensor " + describe() + " has no dimension " + std::to_string(i));
  return shape_[j];
}

bool Tensor::is_dense() const {
  return shape_.empty() || shape_[0] <= 1 || batch_stride_ == numel() / shape_[0];
}

VkDeviceSize Tensor::span_bytes() const {
  if (shape_.empty()) return dtype_size(dtype_);
  int64_t per_sample = shape_[0] ? numel() / shape_[0] : 0;
  int64_t elems = shape_[0] == 0 ? 0 : (shape_[0] - 1) * batch_stride_ + per_sample;
  return static_cast<VkDeviceSize>(elems) * dtype_size(dtype_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  if (!is_dense()) throw ShapeError("reshape of non-dense view " + describe());
  if (shape_numel(shape) != numel())
    throw ShapeError("cannot reshape " + describe() + " to " + shape_string(shape) + ": element counts differ");
  Tensor t = *this;
  t.shape_ = shape;
  t.batch_stride_ = shape.empty() || shape[0] == 0 ? 0 : shape_numel(shape) / shape[0];
  return t;
}

Tensor Tensor::channel_slice(int64_t first, int64_t count) const {
  if (rank() < 2) throw ShapeError("channel_slice needs rank >= 2, got " + describe());
  if (first < 0 || count <= 0 || first + count > shape_[1])
    throw ShapeError("channel_slice [" + std::to_string(first) + ", " + std::to_string(first + count) +
                     ") out of range for " + describe());
  int64_t inner = 1;
  for (int i = 2; i < rank(); ++i) inner *= shape_[i];
  Tensor t = *this;
  t.offset_ += static_cast<VkDeviceSize>(first * inner) * dtype_size(dtype_);
  t.shape_[1] = count;
  return t;  // batch stride unchanged: the view skips the other channels of each sample
}

Tensor Tensor::view(int64_t element_offset, const Shape& shape, std::string name) const {
  if (!is_dense()) throw ShapeError("view into non-dense " + describe());
  if (element_offset < 0 || element_offset + shape_numel(shape) > numel())
    throw ShapeError("view '" + name + "' " + shape_string(shape) + " at element " + std::to_string(element_offset) +
                     " does not fit in " + describe());
  Tensor t = *this;
  t.offset_ += static_cast<VkDeviceSize>(element_offset) * dtype_size(dtype_);
  t.shape_ = shape;
  t.batch_stride_ = shape.empty() || shape[0] == 0 ? 0 : shape_numel(shape) / shape[0];
  t.name_ = std::move(name);
  return t;
}

Tensor Tensor::batch_slice(int64_t first, int64_t count) const {
  if (rank() < 1 || first < 0 || count <= 0 || first + count > shape_[0])
    throw ShapeError("batch_slice [" + std::to_string(first) + ", " + std::to_string(first + count) +
                     ") out of range for " + describe());
  Tensor t = *this;
  t.offset_ += static_cast<VkDeviceSize>(first * batch_stride_) * dtype_size(dtype_);
  t.shape_[0] = count;
  return t;
}

Tensor Tensor::renamed(std::string name) const {
  Tensor t = *this;
  t.name_ = std::move(name);
  return t;
}

std::string Tensor::describe() const {
  std::string s = (name_.empty() ? std::string("<tensor>") : name_) + " " + shape_string(shape_) + " " + dtype_name(dtype_);
  if (!is_dense()) s += " (batch stride " + std::to_string(batch_stride_) + ")";
  return s;
}

void require_shape(const char* op, const Tensor& t, const Shape& expected) {
  if (!t.valid()) throw ShapeError(std::string(op) + ": tensor is not allocated (expected " + shape_string(expected) + ")");
  if (t.shape() != expected)
    throw ShapeError(std::string(op) + ": " + t.describe() + " should have shape " + shape_string(expected));
}

void require_dtype(const char* op, const Tensor& t, DType expected) {
  if (t.dtype() != expected)
    throw ShapeError(std::string(op) + ": " + t.describe() + " should have dtype " + dtype_name(expected));
}

void require_dense(const char* op, const Tensor& t) {
  if (!t.is_dense()) throw ShapeError(std::string(op) + ": " + t.describe() + " must be dense (not a strided view)");
}

void require_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape())
    throw ShapeError(std::string(op) + ": shapes differ: " + a.describe() + " vs " + b.describe());
}

}  // namespace tessera
