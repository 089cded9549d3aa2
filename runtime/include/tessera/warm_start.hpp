// Starting a new model from a trained one (`tessera train --init-from`): fine-tuning, e.g. a
// material model from the RGB texture model, or a model for a new class list. The two configs
// may differ in their maps and classes; every other shape must agree where names agree.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "tessera/model_file.hpp"
#include "tessera/parameters.hpp"

namespace tessera {

struct WarmStartReport {
  int copied = 0;                  // parameters taken whole
  int partial = 0;                 // taken for the maps or classes both models have
  std::vector<std::string> fresh;  // kept at their initial values (no counterpart)
};

// `flat` holds `target`'s initial values (ParameterSet layout) and is overwritten where the
// source has a counterpart: the same name and shape; or the same name and shape apart from
// the image-channel dimension (the first convolution's input, the last one's output), whose
// channels are taken per map both models carry; or the class embedding, whose rows are taken
// per class name both models have, and the null row. `source` maps names to values
// (safetensors order, unpadded). Throws Error naming a parameter whose shapes disagree
// otherwise (the architectures differ: nothing to start from).
WarmStartReport warm_start(const ParameterSet& target, const ModelInfo& target_info, std::span<float> flat,
                           const ParameterSet& source, const ModelInfo& source_info);

}  // namespace tessera
