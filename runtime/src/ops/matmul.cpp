#include "tessera/ops/matmul.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"

namespace tessera::ops {

namespace {

constexpr const char* kOp = "matmul";

// TexelFetch tiling (see matmul_texel_fetch.comp): rows per lane (the shader's TM), columns per
// lane (4 * its TN4) and subgroups per workgroup; one subgroup per workgroup measured best on
// lavapipe.
constexpr uint32_t kTexelFetchRowsPerLane = 4;
constexpr uint32_t kTexelFetchSubgroupsPerGroup = 1;
constexpr uint32_t kTexelFetchColumnsPerLane = 8;
// matmul_texel_fetch_nosubgroup: 64 invocations, 4 * rows-per-invocation (its TM) rows by 64
// columns.
constexpr uint32_t kFallbackRowsPerInvocation = 4;
// matmul_shared_tiles: 16x16 invocations, 64x64 tile.
constexpr uint32_t kSharedTile = 64;

struct MatmulPush {
  uint32_t m, n, k;
  uint32_t group_size;
  uint32_t a_offset, a_stride, a_group_stride;
  uint32_t b_offset, b_stride, b_group_stride;
  uint32_t c_offset, c_stride, c_group_stride;
  uint32_t bias_offset;
  float alpha, beta;
};
static_assert(sizeof(MatmulPush) <= kMaxPushConstantBytes);

std::string dims(int64_t rows, int64_t cols) { return "[" + std::to_string(rows) + "," + std::to_string(cols) + "]"; }

// Highest element index + 1 that the batch touches in `x` for matrices of rows x cols.
int64_t operand_extent(const MatrixBatch& x, const MatmulParams& p, int64_t group_size, int64_t rows, int64_t cols) {
  int64_t groups = (p.batch + group_size - 1) / group_size;
  int64_t last_full = (groups - 1) * x.group_stride + (std::min(group_size, p.batch) - 1) * x.stride;
  int64_t last = (groups - 1) * x.group_stride + ((p.batch - 1) % group_size) * x.stride;
  return x.offset + std::max(last_full, last) + rows * cols;
}

void check_operand(const char* role, const MatrixBatch& x, const MatmulParams& p, int64_t group_size, int64_t rows,
                   int64_t cols) {
  const Tensor& t = x.tensor;
  if (!t.valid()) throw ShapeError(std::string(kOp) + ": operand " + role + " is not an allocated tensor");
  require_dtype(kOp, t, DType::F32);
  require_dense(kOp, t);
  if (x.offset < 0 || x.stride < 0 || x.group_stride < 0)
    throw ShapeError(std::string(kOp) + ": operand " + role + " (" + t.describe() + ") has a negative offset or stride");
  int64_t extent = operand_extent(x, p, group_size, rows, cols);
  if (extent > t.numel())
    throw ShapeError(std::string(kOp) + ": operand " + role + " " + t.describe() + " is too small for " +
                     std::to_string(p.batch) + " matrices of " + dims(rows, cols) + " at offset " +
                     std::to_string(x.offset) + ", stride " + std::to_string(x.stride) + ", group stride " +
                     std::to_string(x.group_stride) + " (needs " + std::to_string(extent) + " elements)");
  if (extent > std::numeric_limits<uint32_t>::max())
    throw UnsupportedError(std::string(kOp) + ": operand " + role + " " + t.describe() +
                           " needs element indices beyond 32 bits");
}

bool overlaps(const Tensor& a, const Tensor& b) {
  return a.buffer() == b.buffer() && a.offset() < b.offset() + b.span_bytes() &&
         b.offset() < a.offset() + a.span_bytes();
}

// Vec4 texel fetches need every matrix start and the contiguous dimension to be multiples of 4.
bool vec4_ok(const MatrixBatch& x, int64_t contiguous) {
  return contiguous % 4 == 0 && x.offset % 4 == 0 && x.stride % 4 == 0 && x.group_stride % 4 == 0;
}

uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }

}  // namespace

void matmul(CommandSequence& seq, const MatrixBatch& a, const MatrixBatch& b, const MatrixBatch& c,
            const MatmulParams& p) {
  if (p.m <= 0 || p.n <= 0 || p.k <= 0 || p.batch <= 0 || p.group_size < 0)
    throw ShapeError(std::string(kOp) + ": sizes must be positive, got M=" + std::to_string(p.m) + " N=" +
                     std::to_string(p.n) + " K=" + std::to_string(p.k) + " batch=" + std::to_string(p.batch) +
                     " group size=" + std::to_string(p.group_size));
  const int64_t group_size = p.group_size == 0 ? p.batch : p.group_size;
  check_operand("A", a, p, group_size, p.transpose_a ? p.k : p.m, p.transpose_a ? p.m : p.k);
  check_operand("B", b, p, group_size, p.transpose_b ? p.n : p.k, p.transpose_b ? p.k : p.n);
  check_operand("C", c, p, group_size, p.m, p.n);
  if (p.bias) {
    require_dtype(kOp, *p.bias, DType::F32);
    require_shape(kOp, *p.bias, {p.n});
  }
  for (const Tensor* input : {&a.tensor, &b.tensor, p.bias})
    if (input && overlaps(c.tensor, *input))
      throw ShapeError(std::string(kOp) + ": output " + c.tensor.describe() + " overlaps input " + input->describe());

  Context& ctx = seq.context();
  const DeviceInfo& info = ctx.info();
  auto fits_texel = [&](const Tensor& t) { return static_cast<uint64_t>(t.numel()) <= info.max_texel_buffer_elements; };
  const bool texel_fetch = ctx.variant() == KernelVariant::TexelFetch && fits_texel(a.tensor) && fits_texel(b.tensor);
  const bool broadcast = texel_fetch && info.subgroup_basic && info.subgroup_size % 4 == 0 && info.subgroup_size <= 64;

  bool vec4_a = broadcast && p.transpose_a && vec4_ok(a, p.m);
  bool vec4_b = texel_fetch && vec4_ok(b, p.transpose_b ? p.k : p.n);
  auto texel_kind = [](bool vec4) { return vec4 ? BindAs::TexelVec4 : BindAs::TexelF32; };
  std::vector<uint32_t> constants{p.transpose_a, p.transpose_b, vec4_a, vec4_b, p.bias != nullptr};

  KernelSpec spec;
  Groups groups;
  groups.z = u32(p.batch);
  if (broadcast) {
    uint32_t sg = info.subgroup_size;
    spec = {ctx.mode_kernel("matmul_texel_fetch"),
            {texel_kind(vec4_a), texel_kind(vec4_b), BindAs::Storage, BindAs::Storage},
            {sg * kTexelFetchSubgroupsPerGroup, 1, 1},
            constants};
    spec.constants.push_back(sg);
    groups.x = div_up(p.m, kTexelFetchRowsPerLane * kTexelFetchSubgroupsPerGroup);
    groups.y = div_up(p.n, kTexelFetchColumnsPerLane * sg);
  } else if (texel_fetch) {
    spec = {ctx.mode_kernel("matmul_texel_fetch_nosubgroup"),
            {BindAs::TexelF32, texel_kind(vec4_b), BindAs::Storage, BindAs::Storage},
            {64, 1, 1},
            constants};
    groups.x = div_up(p.n, 64);
    groups.y = div_up(p.m, 4 * kFallbackRowsPerInvocation);
  } else {
    spec = {ctx.mode_kernel("matmul_shared_tiles"),
            {BindAs::Storage, BindAs::Storage, BindAs::Storage, BindAs::Storage},
            {16, 16, 1},
            constants};
    groups.x = div_up(p.n, kSharedTile);
    groups.y = div_up(p.m, kSharedTile);
  }
  const Kernel& kernel = ctx.kernels().get(spec);

  MatmulPush push{u32(p.m),        u32(p.n),        u32(p.k),        u32(group_size),   u32(a.offset),
                  u32(a.stride),   u32(a.group_stride), u32(b.offset), u32(b.stride),   u32(b.group_stride),
                  u32(c.offset),   u32(c.stride),   u32(c.group_stride), 0u,            p.alpha,
                  p.beta};
  auto bind_input = [&](const Tensor& t, BindAs kind) { return Arg{&t, Access::Read, kind}; };
  // Without a bias the binding still needs a buffer; C is bound read-only there and never read.
  const Tensor& bias = p.bias ? *p.bias : c.tensor;
  Arg c_arg = p.beta != 0.0f ? inout(c.tensor) : out(c.tensor);
  seq.dispatch(kernel, {bind_input(a.tensor, spec.bindings[0]), bind_input(b.tensor, spec.bindings[1]), c_arg, in(bias)},
               push, groups);
}

void matmul(CommandSequence& seq, const Tensor& a, const Tensor& b, const Tensor& c, bool transpose_a,
            bool transpose_b, float alpha, float beta) {
  auto require_rank = [](const Tensor& t, int max_rank) {
    if (!t.valid()) throw ShapeError(std::string(kOp) + ": tensor is not allocated");
    if (t.rank() < 2 || t.rank() > max_rank)
      throw ShapeError(std::string(kOp) + ": " + t.describe() + " should be [rows, cols] or [batch, rows, cols]");
  };
  require_rank(a, 3);
  require_rank(b, 3);
  require_rank(c, 3);
  for (const Tensor* t : {&a, &b, &c}) require_dtype(kOp, *t, DType::F32);
  MatmulParams p;
  p.m = transpose_a ? a.dim(-1) : a.dim(-2);
  p.k = transpose_a ? a.dim(-2) : a.dim(-1);
  int64_t kb = transpose_b ? b.dim(-1) : b.dim(-2);
  p.n = transpose_b ? b.dim(-2) : b.dim(-1);
  p.transpose_a = transpose_a;
  p.transpose_b = transpose_b;
  p.alpha = alpha;
  p.beta = beta;
  std::string operands = a.describe() + (transpose_a ? "^T" : "") + " x " + b.describe() + (transpose_b ? "^T" : "") +
                         " -> " + c.describe();
  if (kb != p.k)
    throw ShapeError(std::string(kOp) + ": inner dimensions differ (" + std::to_string(p.k) + " vs " +
                     std::to_string(kb) + "): " + operands);
  p.batch = c.rank() == 3 ? c.dim(0) : 1;
  for (const Tensor* t : {&a, &b})
    if (t->rank() == 3 && (c.rank() != 3 || t->dim(0) != p.batch))
      throw ShapeError(std::string(kOp) + ": batch sizes differ: " + operands);
  Shape expected_c = c.rank() == 3 ? Shape{p.batch, p.m, p.n} : Shape{p.m, p.n};
  if (c.shape() != expected_c)
    throw ShapeError(std::string(kOp) + ": " + c.describe() + " should have shape " + shape_string(expected_c) + " for " +
                     operands);
  auto batch_of = [](const Tensor& t) { return MatrixBatch{t, 0, t.rank() == 3 ? t.dim(-1) * t.dim(-2) : 0, 0}; };
  matmul(seq, batch_of(a), batch_of(b), batch_of(c), p);
}

}  // namespace tessera::ops
