#include "tessera/ops/linear.hpp"

#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/matmul.hpp"

namespace tessera::ops {

namespace {

struct LinearDims {
  int64_t rows, in, out;
};

LinearDims check_linear(const char* op, const Tensor& x, const Tensor& weight) {
  for (const Tensor* t : {&x, &weight}) {
    if (!t->valid()) throw ShapeError(std::string(op) + ": tensor is not allocated");
    require_dtype(op, *t, DType::F32);
    require_dense(op, *t);
    if (t->rank() != 2) throw ShapeError(std::string(op) + ": " + t->describe() + " should be a matrix (rank 2)");
  }
  if (x.dim(1) != weight.dim(1))
    throw ShapeError(std::string(op) + ": inner dimensions differ: input " + x.describe() + " has " +
                     std::to_string(x.dim(1)) + " features, weight " + weight.describe() + " expects " +
                     std::to_string(weight.dim(1)) + " ([out, in] layout)");
  return {x.dim(0), x.dim(1), weight.dim(0)};
}

void require_f32_shape(const char* op, const Tensor& t, const Shape& shape) {
  require_shape(op, t, shape);
  require_dtype(op, t, DType::F32);
  require_dense(op, t);
}

}  // namespace

void linear_forward(CommandSequence& seq, const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor& y) {
  const char* op = "linear_forward";
  LinearDims d = check_linear(op, x, weight);
  if (bias) require_f32_shape(op, *bias, {d.out});
  require_f32_shape(op, y, {d.rows, d.out});
  MatmulParams p;
  p.m = d.rows;
  p.n = d.out;
  p.k = d.in;
  p.transpose_b = true;
  p.bias = bias;
  matmul(seq, {x}, {weight}, {y}, p);
}

void linear_backward(CommandSequence& seq, const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor* dx,
                     const Tensor& dweight, const Tensor* dbias, bool accumulate_dx) {
  const char* op = "linear_backward";
  LinearDims d = check_linear(op, x, weight);
  require_f32_shape(op, dy, {d.rows, d.out});
  require_f32_shape(op, dweight, {d.out, d.in});
  if (dx) require_f32_shape(op, *dx, {d.rows, d.in});
  if (dbias) require_f32_shape(op, *dbias, {d.out});

  if (dx) {
    MatmulParams p;
    p.m = d.rows;
    p.n = d.in;
    p.k = d.out;
    p.beta = accumulate_dx ? 1.0f : 0.0f;
    matmul(seq, {dy}, {weight}, {*dx}, p);
  }
  MatmulParams pw;
  pw.m = d.out;
  pw.n = d.in;
  pw.k = d.rows;
  pw.transpose_a = true;
  matmul(seq, {dy}, {x}, {dweight}, pw);

  if (dbias) {
    constexpr uint32_t kLocal = 64;
    const Kernel& k = seq.context().kernels().get({"linear_bias_grad", {BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}});
    struct {
      uint32_t rows, cols;
    } push{static_cast<uint32_t>(d.rows), static_cast<uint32_t>(d.out)};
    seq.dispatch(k, {in(dy), out(*dbias)}, push, groups_1d(d.out, kLocal));
  }
}

}  // namespace tessera::ops
