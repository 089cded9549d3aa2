// What a sampler needs from a model: device tensors for its inputs and output, and a
// recorded forward pass. The U-Net is one; tests plug in exact denoisers for known data.
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera {

class Denoiser {
 public:
  virtual ~Denoiser() = default;
  virtual const Tensor& input() const = 0;      // x_t [N, C, H, W]
  virtual const Tensor& timesteps() const = 0;  // [N] f32
  virtual const Tensor& labels() const = 0;     // [N] u32; an invalid tensor for unconditional models
  virtual const Tensor& output() const = 0;     // eps or v [N, C, H, W]
  virtual void record_forward(CommandSequence& seq) const = 0;
};

}  // namespace tessera
