// ParameterSet: every learnable tensor of a model carved out of ONE flat f32 buffer (each
// tensor starting 64 elements aligned), with gradients in a second buffer of the same
// layout. Optimizer, EMA and gradient-norm kernels then cover the whole model in one
// dispatch over the flat tensors; the alignment gaps are kept at zero and stay zero.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/arena.hpp"
#include "tessera/tensor.hpp"

namespace tessera {

class Context;

class ParameterSet {
 public:
  struct Entry {
    std::string name;
    Shape shape;
    int64_t offset = 0;  // elements into the flat buffer
    Tensor value;
    Tensor grad;  // invalid unless allocated with gradients
  };
  static constexpr int64_t kAlignElements = 64;

  ParameterSet() = default;
  ParameterSet(const ParameterSet&) = delete;
  ParameterSet& operator=(const ParameterSet&) = delete;

  // Declaration phase: names must be unique.
  void declare(const std::string& name, const Shape& shape);
  // Allocates the flat buffers (zero-filled); no declarations after this.
  void allocate(Context& ctx, bool with_grads);
  bool allocated() const { return values_ != nullptr; }

  const Entry& entry(const std::string& name) const;  // throws naming the missing parameter
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const Tensor& value(const std::string& name) const { return entry(name).value; }
  const Tensor& grad(const std::string& name) const;
  const std::vector<Entry>& entries() const { return entries_; }

  int64_t parameter_count() const;  // sum of numel, without alignment gaps
  int64_t flat_elements() const { return flat_elements_; }
  const Tensor& flat_values() const { return flat_values_; }
  const Tensor& flat_grads() const { return flat_grads_; }

  // Host copies of the whole flat buffer (gaps included) and of one parameter.
  std::vector<float> download_flat() const;
  void upload_flat(std::span<const float> values);
  std::vector<float> download(const std::string& name) const;
  void upload(const std::string& name, std::span<const float> values);

 private:
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
  int64_t flat_elements_ = 0;
  std::unique_ptr<Arena> values_, grads_;
  Tensor flat_values_, flat_grads_;
};

}  // namespace tessera
