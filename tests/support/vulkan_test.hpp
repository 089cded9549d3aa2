// Test support: one shared Context for the whole suite (validation layers on unless
// TESSERA_VALIDATION=0), a fresh arena per test, and checks that fail a test on any
// validation message.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/arena.hpp"
#include "tessera/command_sequence.hpp"
#include "tessera/context.hpp"

namespace tessera::testing {

// The suite-wide context. Created on first use.
Context& context();

class VulkanTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;  // fails the test if the validation layer said anything
  Context& ctx() { return context(); }
  Arena& arena() { return *arena_; }

  // Allocates a tensor filled with uniform random values in [lo, hi).
  Tensor random_tensor(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f,
                       const std::string& name = "input");
  // Allocates a tensor filled with NaN so any element an op fails to write is caught.
  Tensor poisoned_tensor(const Shape& shape, const std::string& name = "output");
  // Runs `body` once per kernel variant (TexelFetch, SharedTiles), restoring the context's variant after.
  void for_each_variant(const std::function<void(KernelVariant)>& body);

 private:
  std::unique_ptr<Arena> arena_;
};

std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);
std::vector<double> to_double(std::span<const float> v);

// Compares every element. The error of element i is |got_i - ref_i| / max(|ref_i|, floor),
// where floor = floor_fraction * max_j |ref_j| (default 1%): elements much smaller than the tensor's scale
// are judged against that scale instead of against themselves (their relative error is
// dominated by cancellation, not by the kernel). Fails if any error exceeds `tolerance`, or
// any element is NaN/Inf, reporting the worst element.
void expect_close(std::span<const float> got, std::span<const double> ref, double tolerance,
                  const std::string& what, double floor_fraction = 1e-2);

// Normwise check: max_i |got_i - ref_i| / max_i |ref_i| <= tolerance (and no NaN/Inf). The
// measure for results of long fp32 computations (a whole network's gradients), where sums with
// cancellation leave elements far below the tensor's scale with meaningless relative errors.
void expect_close_normwise(std::span<const float> got, std::span<const double> ref, double tolerance,
                           const std::string& what);

// Central finite difference of a scalar function of a parameter vector (double precision).
std::vector<double> finite_difference(const std::function<double(const std::vector<double>&)>& f,
                                      std::vector<double> x, double h = 1e-5);

}  // namespace tessera::testing
