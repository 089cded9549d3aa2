#include "tessera/parameters.hpp"

#include <algorithm>
#include <cmath>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/rng.hpp"

namespace tessera {

Init Init::uniform(float bound) {
  Init i(Uniform);
  i.bound = bound;
  return i;
}

Init Init::fan_in(int64_t fan_in) { return uniform(1.0f / std::sqrt(float(fan_in))); }

void ParameterSet::declare(const std::string& name, const Shape& shape, Init init) {
  if (allocated()) throw Error("parameter '" + name + "' declared after the parameters were allocated");
  if (index_.count(name)) throw Error("parameter '" + name + "' declared twice");
  for (int64_t d : shape)
    if (d <= 0) throw ShapeError("parameter '" + name + "' has a non-positive dimension: " + shape_string(shape));
  Entry e;
  e.name = name;
  e.shape = shape;
  e.init = init;
  e.offset = flat_elements_;
  flat_elements_ += (shape_numel(shape) + kAlignElements - 1) / kAlignElements * kAlignElements;
  index_[name] = entries_.size();
  entries_.push_back(std::move(e));
}

void ParameterSet::allocate(Context& ctx, bool with_grads) {
  if (allocated()) throw Error("parameters allocated twice");
  if (flat_elements_ == 0) throw Error("no parameters declared");
  VkDeviceSize bytes = static_cast<VkDeviceSize>(flat_elements_) * 4 + Arena::kAlignment;
  values_ = std::make_unique<Arena>(ctx, bytes, "parameters");
  flat_values_ = values_->allocate({flat_elements_}, DType::F32, "parameters");
  upload_f32(flat_values_, std::vector<float>(static_cast<size_t>(flat_elements_), 0.0f));
  if (with_grads) {
    grads_ = std::make_unique<Arena>(ctx, bytes, "gradients");
    flat_grads_ = grads_->allocate({flat_elements_}, DType::F32, "gradients");
    upload_f32(flat_grads_, std::vector<float>(static_cast<size_t>(flat_elements_), 0.0f));
  }
  for (Entry& e : entries_) {
    e.value = flat_values_.view(e.offset, e.shape, e.name);
    if (with_grads) e.grad = flat_grads_.view(e.offset, e.shape, "d" + e.name);
  }
}

const ParameterSet::Entry& ParameterSet::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw Error("no parameter named '" + name + "'");
  return entries_[it->second];
}

const Tensor& ParameterSet::grad(const std::string& name) const {
  const Entry& e = entry(name);
  if (!e.grad.valid()) throw Error("parameter '" + name + "' has no gradient (parameters allocated without gradients)");
  return e.grad;
}

int64_t ParameterSet::parameter_count() const {
  int64_t n = 0;
  for (const Entry& e : entries_) n += shape_numel(e.shape);
  return n;
}

std::vector<float> ParameterSet::download_flat() const {
  if (!allocated()) throw Error("parameters not allocated");
  return download_f32(flat_values_);
}

void ParameterSet::upload_flat(std::span<const float> values) {
  if (!allocated()) throw Error("parameters not allocated");
  upload_f32(flat_values_, values);
}

std::vector<float> ParameterSet::download(const std::string& name) const { return download_f32(entry(name).value); }

void ParameterSet::upload(const std::string& name, std::span<const float> values) {
  const Entry& e = entry(name);
  if (static_cast<int64_t>(values.size()) != shape_numel(e.shape))
    throw ShapeError("parameter '" + name + "' " + shape_string(e.shape) + " needs " +
                     std::to_string(shape_numel(e.shape)) + " values, got " + std::to_string(values.size()));
  upload_f32(e.value, values);
}

std::vector<float> ParameterSet::initial_values(uint64_t seed, uint32_t stream) const {
  std::vector<float> flat(static_cast<size_t>(flat_elements_), 0.0f);
  for (const Entry& e : entries_) {
    float* v = flat.data() + e.offset;
    int64_t n = shape_numel(e.shape);
    if (e.init.kind == Init::One) std::fill(v, v + n, 1.0f);
    if (e.init.kind != Init::Uniform) continue;
    for (int64_t i = 0; i < n; ++i) v[i] = (2.0f * rng::uniform(seed, stream, e.offset + i) - 1.0f) * e.init.bound;
  }
  return flat;
}

}  // namespace tessera
