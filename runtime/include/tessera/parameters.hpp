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

// How a parameter starts before training, declared with the parameter by the layer that owns
// it (so no rule has to recognise parameters by their names).
struct Init {
  enum Kind { Zero, One, Uniform };
  Kind kind;
  float bound = 0.0f;        // Uniform: values in [-bound, bound)
  Init(Kind k) : kind(k) {}  // NOLINT(google-explicit-constructor): declare(name, shape, Init::Zero)
  static Init uniform(float bound);
  // Uniform in +-1/sqrt(fan_in), fan_in being the inputs per output of the layer (PyTorch's
  // default for Linear and Conv2d, their biases included).
  static Init fan_in(int64_t fan_in);
};

class ParameterSet {
 public:
  struct Entry {
    std::string name;
    Shape shape;
    Init init = Init::Zero;
    int64_t offset = 0;  // elements into the flat buffer
    Tensor value;
    Tensor grad;  // invalid unless allocated with gradients
  };
  static constexpr int64_t kAlignElements = 64;

  ParameterSet() = default;
  ParameterSet(const ParameterSet&) = delete;
  ParameterSet& operator=(const ParameterSet&) = delete;

  // Declaration phase: names must be unique.
  void declare(const std::string& name, const Shape& shape, Init init);
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

  // The flat buffer as the declared Init rules give it; Uniform element i of the flat buffer is
  // drawn from rng::uniform(seed, stream, i). Needs no allocation.
  std::vector<float> initial_values(uint64_t seed, uint32_t stream) const;

 private:
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
  int64_t flat_elements_ = 0;
  std::unique_ptr<Arena> values_, grads_;
  Tensor flat_values_, flat_grads_;
};

}  // namespace tessera
