#include "tessera/warm_start.hpp"

#include <algorithm>

#include "tessera/error.hpp"

namespace tessera {

namespace {

// Copies along dimension `dim` of `shape`: target index i takes source index from[i] (-1: keep).
// The source has the same shape except for that dimension's size.
void copy_along(std::span<float> dst, std::span<const float> src, const Shape& shape, int dim, int64_t src_size,
                const std::vector<int64_t>& from) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= shape[d];
  for (size_t d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t size = shape[dim];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < size; ++i)
      if (from[i] >= 0)
        std::copy_n(src.begin() + (o * src_size + from[i]) * inner, inner, dst.begin() + (o * size + i) * inner);
}

// Target channel -> source channel for the maps both configs carry.
std::vector<int64_t> channel_map(const UNetConfig& target, const UNetConfig& source) {
  std::vector<int64_t> from(target.channels(), -1);
  for (MapKind kind : target.maps) {
    int t = map_channel_offset(target.maps, kind), s = map_channel_offset(source.maps, kind);
    if (s < 0) continue;
    for (int c = 0; c < map_spec(kind).channels; ++c) from[t + c] = s + c;
  }
  return from;
}

// Target class row -> source row by class name; the null row (last) from the null row.
std::vector<int64_t> class_map(const ModelInfo& target, const ModelInfo& source) {
  std::vector<int64_t> from(target.classes.size() + 1, -1);
  for (size_t i = 0; i < target.classes.size(); ++i) {
    auto it = std::find(source.classes.begin(), source.classes.end(), target.classes[i]);
    if (it != source.classes.end()) from[i] = it - source.classes.begin();
  }
  from.back() = static_cast<int64_t>(source.classes.size());
  return from;
}

}  // namespace

WarmStartReport warm_start(const ParameterSet& target, const ModelInfo& target_info, std::span<float> flat,
                           const ParameterSet& source, const ModelInfo& source_info) {
  WarmStartReport report;
  for (const ParameterSet::Entry& t : target.entries()) {
    if (!source.contains(t.name)) {
      report.fresh.push_back(t.name);
      continue;
    }
    const ParameterSet::Entry& s = source.entry(t.name);
    std::vector<float> values = source.download(t.name);
    std::span<float> dst = flat.subspan(t.offset, shape_numel(t.shape));
    // Rows are classes: taken by name even where the counts agree.
    const bool class_rows = t.name == "class_embed.weight" && target_info.classes != source_info.classes;
    if (s.shape == t.shape && !class_rows) {
      std::copy(values.begin(), values.end(), dst.begin());
      ++report.copied;
      continue;
    }
    // The one dimension where the shapes differ.
    int differing = -1;
    for (size_t d = 0; d < t.shape.size() && s.shape.size() == t.shape.size(); ++d)
      if (s.shape[d] != t.shape[d]) differing = differing < 0 ? int(d) : -2;
    std::vector<int64_t> from;
    if (class_rows && s.shape.size() == 2 && s.shape[1] == t.shape[1])
      from = class_map(target_info, source_info);
    else if (differing >= 0 && t.shape[differing] == target_info.config.channels() &&
             s.shape[differing] == source_info.config.channels())
      from = channel_map(target_info.config, source_info.config);
    else
      throw Error("--init-from: parameter '" + t.name + "' has shape " + shape_string(t.shape) + " here but " +
                  shape_string(s.shape) + " in the source model: the architectures differ (only maps and classes may)");
    const int dim = class_rows ? 0 : differing;
    copy_along(dst, values, t.shape, dim, s.shape[dim], from);
    ++report.partial;
  }
  return report;
}

}  // namespace tessera
