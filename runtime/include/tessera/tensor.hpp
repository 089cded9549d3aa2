// Tensor: a typed, shaped view into an Arena's device buffer. Tensors never own memory;
// the arena does. A view may have a batch stride larger than its dense size, which is how
// channel-concat is expressed without a copy (each half of a concat is a view whose batch
// stride is the concat's per-sample size).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <vulkan/vulkan.h>

namespace tessera {

class Arena;

enum class DType : uint32_t { F32, F16, U32, I32, U8 };

size_t dtype_size(DType);
const char* dtype_name(DType);

using Shape = std::vector<int64_t>;
std::string shape_string(const Shape&);
int64_t shape_numel(const Shape&);

class Tensor {
 public:
  Tensor() = default;
  // A shape with no memory behind it (valid() is false): what a pass that only declares a
  // network's parameters lays out, without a device.
  static Tensor unbound(const Shape& shape, DType dtype, std::string name);

  Arena* arena() const { return arena_; }
  VkBuffer buffer() const;
  VkDeviceSize offset() const { return offset_; }  // bytes from the buffer start
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const;                         // negative i counts from the back
  int rank() const { return static_cast<int>(shape_.size()); }
  DType dtype() const { return dtype_; }
  const std::string& name() const { return name_; }
  int64_t numel() const { return shape_numel(shape_); }
  bool valid() const { return arena_ != nullptr; }

  // Elements between sample n and n+1 (dim 0). Equals numel()/dim(0) for dense tensors.
  int64_t batch_stride() const { return batch_stride_; }
  bool is_dense() const;
  // Bytes spanned from offset() to the end of the last element (what a descriptor must cover).
  VkDeviceSize span_bytes() const;

  // Same memory, new shape with the same element count; requires a dense tensor.
  Tensor reshape(const Shape& shape) const;
  // Channels [first, first+count) of an NCHW (or N,C,...) tensor, as a view with a batch stride.
  Tensor channel_slice(int64_t first, int64_t count) const;
  // A dense view of `shape` starting `element_offset` elements into this dense tensor
  // (parameters carved out of one flat buffer, so optimizers cover them in one dispatch).
  Tensor view(int64_t element_offset, const Shape& shape, std::string name) const;
  // Samples [first, first+count) along dim 0.
  Tensor batch_slice(int64_t first, int64_t count) const;
  Tensor renamed(std::string name) const;

  // "name [2,64,32,32] f32"
  std::string describe() const;

 private:
  friend class Arena;
  Arena* arena_ = nullptr;
  VkDeviceSize offset_ = 0;
  Shape shape_;
  DType dtype_ = DType::F32;
  int64_t batch_stride_ = 0;
  std::string name_;
};

// Throws ShapeError naming the op and both tensors unless shapes match exactly.
void require_shape(const char* op, const Tensor& t, const Shape& expected);
void require_dtype(const char* op, const Tensor& t, DType expected);
void require_dense(const char* op, const Tensor& t);
void require_same_shape(const char* op, const Tensor& a, const Tensor& b);

}  // namespace tessera
