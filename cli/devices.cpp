// `tessera devices`: what Tessera sees and which device it would pick, and why.
#include <cstdio>

#include "args.hpp"
#include "commands.hpp"
#include "tessera/context.hpp"

namespace tessera::cli {

int devices_main(const std::vector<std::string>& args) {
  if (Args(args, {}, {"help"}).has("help")) {
    std::printf("usage: tessera devices   (TESSERA_DEVICE=<index|name> selects a device)\n");
    return 0;
  }
  auto ctx = Context::create();
  std::printf("%s\n  kernel variant: %s\n", ctx->info().describe().c_str(), kernel_variant_name(ctx->variant()));
  return 0;
}

}  // namespace tessera::cli
