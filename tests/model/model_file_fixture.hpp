// A small class-conditional model ("rock", "wood"; 8x8, circular) and a scratch folder for the
// model-file tests, which write it with edited tensors or metadata and read the load error.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/model_file.hpp"
#include "tessera/safetensors.hpp"
#include "tessera/unet.hpp"

namespace tessera::testing {

class ModelFileFixture : public VulkanTest {
 protected:
  using Tensors = std::vector<SafetensorsTensorData>;
  using Metadata = std::map<std::string, std::string>;
  using Edit = std::function<void(Tensors&, Metadata&)>;

  void SetUp() override {
    VulkanTest::SetUp();
    dir_ = std::filesystem::temp_directory_path() / ("tessera-modelfile-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    info_.config = UNetConfig::from_json(
        R"({"base_channels": 8, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [4],
            "num_heads": 2, "norm_groups": 4, "num_classes": 2, "padding": "circular", "train_resolution": 8})");
    info_.classes = {"rock", "wood"};
    info_.provenance = {{"command", "tessera train --data x"}, {"steps", "10"}};
    UNet::declare_parameters(info_.config, layout_);
    flat_ = random_floats(static_cast<size_t>(layout_.flat_elements()), 3);
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    VulkanTest::TearDown();
  }
  // Writes the model with values `flat` (flat_ when null), tensors and metadata changed by `edit`.
  std::filesystem::path write_edited(const Edit& edit, const std::vector<float>* flat = nullptr) {
    const std::vector<float>& values = flat ? *flat : flat_;
    Tensors tensors;
    for (const auto& e : layout_.entries())
      tensors.push_back({e.name, SafetensorsDType::F32, e.shape,
                         std::as_bytes(std::span(values.data() + e.offset, size_t(shape_numel(e.shape))))});
    Metadata meta{{"tessera.format_version", "1"},
                  {"tessera.config", info_.config.to_json()},
                  {"tessera.classes", R"(["rock","wood"])"}};
    edit(tensors, meta);
    std::filesystem::path p = dir_ / "edited.safetensors";
    write_safetensors(p, tensors, meta);
    return p;
  }
  // The error of loading write_edited(edit), or "" when it loads.
  std::string load_error(const Edit& edit) {
    std::filesystem::path p = write_edited(edit);
    try {
      load_model(ctx(), p);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  std::filesystem::path dir_;
  ModelInfo info_;
  ParameterSet layout_;
  std::vector<float> flat_;
};

}  // namespace tessera::testing
