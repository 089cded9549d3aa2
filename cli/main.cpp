// `tessera`: the command-line tool. Dispatches to one sub-command per file in cli/.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "args.hpp"
#include "commands.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: tessera <command> [options]\n"
               "commands:\n"
               "  sample             generate textures with a model (the bundled one by default)\n"
               "  train              train a texture model on a folder of images\n"
               "  info FILE          print a model's (or training checkpoint's) config, classes, provenance\n"
               "  model split|join   a model or checkpoint as parts of at most 16 MiB, and back\n"
               "  devices            list Vulkan devices and the one Tessera would use\n"
               "  hash               portable-mode hashes of images, to check a device (docs/portable-hashes.md)\n"
               "  bench [what]       time kernels on this device and PyTorch CPU side by side\n"
               "run 'tessera <command> --help' for a command's options\n%s",
               tessera::cli::kArgumentRules);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "bench") return tessera::cli::bench_main(args);
    if (command == "devices") return tessera::cli::devices_main(args);
    if (command == "train") return tessera::cli::train_main(args);
    if (command == "info") return tessera::cli::info_main(args);
    if (command == "model") return tessera::cli::model_main(args);
    if (command == "sample") return tessera::cli::sample_main(args);
    if (command == "hash") return tessera::cli::hash_main(args);
    std::fprintf(stderr, "tessera: unknown command '%s'\n", command.c_str());
    usage();
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera %s: error: %s\n", command.c_str(), e.what());
    return 1;
  }
}
