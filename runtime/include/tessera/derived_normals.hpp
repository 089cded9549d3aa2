// The normal map of a material batch, derived on the device from its height channel (SPEC
// §12): one recorded sequence that a caller runs after the last sampler step (the CLI), or
// submits as one more unit of a job's GPU work within the frame budget (the C API).
#pragma once
#include <memory>
#include <vector>

#include "tessera/arena.hpp"
#include "tessera/command_sequence.hpp"
#include "tessera/material_maps.hpp"
#include "tessera/ops/normal_map.hpp"

namespace tessera {

// The largest NormalOptions::strength a request may ask for (tessera.h TSR_MAX_NORMAL_STRENGTH):
// far steeper than any material (the set's median is about 3), small enough to stay finite.
inline constexpr float kMaxNormalStrength = 1000.0f;

struct NormalOptions {
  // The height range in texels of the generated image (height in texels = h01 * strength).
  // The material set's median is about 3 texels at the 64 px scale the bundled material model
  // learnt (docs/material-model.md); a larger value makes the relief steeper.
  float strength = 3.0f;
  ops::NormalConvention convention = ops::NormalConvention::OpenGL;

  // The one check (GenerationRequest::validate runs it): strength finite in
  // [0, kMaxNormalStrength]. Throws Error starting "normal_strength".
  void validate() const;
};

class DerivedNormals {
 public:
  // `images` [N, C, H, W] carries `maps`; throws Error when they have no height.
  DerivedNormals(Context& ctx, const Tensor& images, const std::vector<MapKind>& maps, const NormalOptions& options);
  ~DerivedNormals();

  const CommandSequence& sequence() const { return *seq_; }  // ends with a full barrier
  void run() { seq_->run(); }
  const Tensor& normals() const { return normals_; }  // [N, 3, H, W] unit vectors
  std::vector<float> download() const { return download_f32(normals_); }

 private:
  std::unique_ptr<Arena> arena_;
  Tensor normals_;
  std::unique_ptr<CommandSequence> seq_;
};

}  // namespace tessera
