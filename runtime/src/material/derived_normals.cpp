#include "tessera/derived_normals.hpp"

#include <sstream>

#include "tessera/error.hpp"

namespace tessera {

void NormalOptions::validate() const {
  if (!(strength >= 0 && strength <= kMaxNormalStrength)) {
    std::ostringstream text;
    text << "normal_strength " << strength << " is outside [0, " << kMaxNormalStrength << "] (texels of height range)";
    throw Error(text.str());
  }
}

DerivedNormals::DerivedNormals(Context& ctx, const Tensor& images, const std::vector<MapKind>& maps,
                               const NormalOptions& options) {
  const int height = map_channel_offset(maps, MapKind::Height);
  if (height < 0)
    throw Error("normals are derived from height, and this model has none (its maps: " + map_names(maps) + ")");
  const Shape shape{images.dim(0), 3, images.dim(2), images.dim(3)};
  arena_ = Arena::measured(ctx, "normals", [&](Arena& a) { normals_ = a.allocate(shape, DType::F32, "normals"); });
  seq_ = std::make_unique<CommandSequence>(ctx);
  ops::normal_map_from_height(*seq_, images.channel_slice(height, 1), normals_, options.strength, options.convention);
  seq_->barrier();
  seq_->finish();
}

DerivedNormals::~DerivedNormals() = default;

}  // namespace tessera
