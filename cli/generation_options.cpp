#include "generation_options.hpp"

#include <cstdio>

#include "app_support.hpp"
#include "tessera/error.hpp"

namespace tessera::cli {

SamplerKind sampler_option(const Args& a) {
  const std::string name = a.str("sampler", "dpmpp2m");
  std::optional<SamplerKind> kind = parse_sampler_kind(name);
  if (!kind) throw Error("--sampler: unknown sampler " + shown(name) + " (ddpm, ddim or dpmpp2m)");
  return *kind;
}

std::optional<std::pair<int, int>> size_option(const Args& a) {
  if (!a.has("size")) return std::nullopt;
  std::optional<std::pair<int, int>> size = app::parse_size(a.str("size", ""));
  if (!size) throw Error("--size: expected WxH, e.g. 128x128; got " + shown(a.str("size", "")));
  return size;
}

int validation_status(const Context& ctx) {
  const std::vector<std::string> messages = ctx.validation_messages();
  for (const std::string& m : messages) std::fprintf(stderr, "vulkan validation: %s\n", m.c_str());
  return messages.empty() ? 0 : 3;
}

}  // namespace tessera::cli
