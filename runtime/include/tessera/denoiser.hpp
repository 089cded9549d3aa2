// What a sampler needs from a model: device tensors for its inputs and output, and a
// recorded forward pass. The U-Net is one; tests plug in exact denoisers for known data.
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera {

// What a plan (a U-Net, a sampler) will cost, worked out by laying it out without allocating:
// its device memory - everything together, the largest single allocation (an arena is one
// VkDeviceMemory) and the largest tensor (a kernel binds a whole tensor, so the device's
// storage-buffer range must cover it) - and the work of one forward (one sampler step).
struct PlanCost {
  VkDeviceSize total_bytes = 0;
  VkDeviceSize largest_allocation = 0;
  VkDeviceSize largest_tensor = 0;
  double forward_flops = 0;
};

class Denoiser {
 public:
  virtual ~Denoiser() = default;
  virtual const Tensor& input() const = 0;      // x_t [N, C, H, W]
  virtual const Tensor& timesteps() const = 0;  // [N] f32
  virtual const Tensor& labels() const = 0;     // [N] u32; an invalid tensor for unconditional models
  virtual const Tensor& output() const = 0;     // eps or v [N, C, H, W]
  virtual void record_forward(CommandSequence& seq) const = 0;
  // Device memory the denoiser holds itself (activations, inputs, outputs), not counting the
  // parameters it reads, which belong to the model (a host's memory report counts those once).
  virtual VkDeviceSize device_bytes() const = 0;
};

}  // namespace tessera
