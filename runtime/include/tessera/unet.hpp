// The DDPM/ADM U-Net of SPEC §3 built from Tessera's ops, with an explicit backward pass
// (llm.c style: every block's backward written out, run in reverse order).
//
// A UNet instance is a plan for one batch size and image size: all activations (and, for
// training, their gradients) are laid out once in one arena, then record_forward /
// record_backward append the dispatches to a CommandSequence that is replayed every step.
// The U-Net's skip concatenations cost no copies: each skip producer writes straight into
// its half of the consuming decoder block's concat buffer.
#pragma once
#include <memory>

#include "tessera/command_sequence.hpp"
#include "tessera/denoiser.hpp"
#include "tessera/parameters.hpp"
#include "tessera/tensor.hpp"
#include "tessera/unet_config.hpp"

namespace tessera {

class Context;

class UNet : public Denoiser {
 public:
  // Declares every parameter of `config` (names and shapes as docs/model-format.md, each with
  // its Init rule) by running the network's build without a device: the blocks declare them.
  static void declare_parameters(const UNetConfig& config, ParameterSet& params);

  // `params` must hold the declared parameters (allocated with gradients when training).
  // height and width must be multiples of config.size_multiple().
  UNet(Context& ctx, const UNetConfig& config, const ParameterSet& params, int batch, int height, int width,
       bool training);
  // What such a UNet would allocate (activations laid out in a measuring arena, plus its
  // constants) and compute per forward, for refusing a plan before building it.
  static PlanCost cost(Context& ctx, const UNetConfig& config, const ParameterSet& params, int batch, int height,
                       int width, bool training);
  ~UNet() override;
  UNet(const UNet&) = delete;
  UNet& operator=(const UNet&) = delete;

  // Inputs the caller fills (by upload or by kernels recorded before record_forward).
  const Tensor& input() const override;      // x_t [N, channels, H, W]
  const Tensor& timesteps() const override;  // [N] f32 (timestep values, 0..T-1)
  const Tensor& labels() const override;     // [N] u32 class labels (num_classes = null label); invalid if unconditional
  const Tensor& output() const override;     // model output [N, channels, H, W]
  // Training only: the caller writes dL/d(output) here before the recorded backward runs;
  // after it, every parameter gradient is in params.flat_grads() and dL/dx in input_grad().
  const Tensor& output_grad() const;
  const Tensor& input_grad() const;

  void record_forward(CommandSequence& seq) const override;
  void record_backward(CommandSequence& seq) const;

  const UNetConfig& config() const;
  VkDeviceSize device_bytes() const override;  // device memory of activations (+ gradients)
  double forward_flops() const;           // conv + linear + attention matmul FLOPs of one forward

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera
