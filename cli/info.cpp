// `tessera info MODEL`: what a model file holds - config, classes, size, provenance.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "tessera/error.hpp"
#include "tessera/model_file.hpp"
#include "tessera/parameters.hpp"
#include "tessera/safetensors.hpp"
#include "tessera/unet.hpp"

namespace tessera::cli {

int info_main(const std::vector<std::string>& args) {
  Args a(args, {}, {"help"}, {"MODEL"});
  if (a.has("help") || a.positional().empty()) {
    std::fprintf(a.has("help") ? stdout : stderr, "usage: tessera info MODEL.safetensors\n");
    return a.has("help") ? 0 : 2;
  }
  const std::filesystem::path path = a.positional()[0];
  ModelInfo info = read_model_info(path);
  // Check the tensors too, without a device: a file that would not load is reported here.
  ParameterSet layout;
  UNet::declare_parameters(info.config, layout);
  ExpectedTensors expected;
  for (const auto& e : layout.entries()) expected.expect_tensor(e.name, SafetensorsDType::F32, e.shape);
  expected.check(SafetensorsFile::load(path));

  std::printf("model: %s (%.2f MiB)\n", path.string().c_str(), std::filesystem::file_size(path) / 1048576.0);
  std::printf("format version: %s\n", kModelFormatVersion);
  std::printf("parameters: %lld\n", (long long)layout.parameter_count());
  std::printf("config:\n");
  const nlohmann::json config = nlohmann::json::parse(info.config.to_json());  // items() needs a live object
  for (const auto& [k, v] : config.items())
    std::printf("  %-22s %s\n", k.c_str(), v.dump().c_str());
  std::printf("image sizes: multiples of %d%s\n", info.config.size_multiple(),
              info.config.padding == PaddingMode::Circular ? " (circular padding: textures tile seamlessly)" : "");
  if (info.classes.empty()) {
    std::printf("classes: none (unconditional)\n");
  } else {
    std::printf("classes:\n");
    for (size_t i = 0; i < info.classes.size(); ++i) std::printf("  %2zu  %s\n", i, info.classes[i].c_str());
  }
  if (!info.provenance.empty()) {
    std::printf("provenance:\n");
    for (const auto& [k, v] : info.provenance) std::printf("  %-10s %s\n", k.c_str(), v.c_str());
  }
  return 0;
}

}  // namespace tessera::cli
