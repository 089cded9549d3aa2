// What the commands that generate (`sample`, `hash`) or run on a device (`train`) share in the
// runtime's terms: reading --sampler and --size, and reporting the validation layer's messages.
// The values themselves are the runtime's to judge (GenerationRequest::validate).
#pragma once
#include <optional>
#include <utility>

#include "args.hpp"
#include "tessera/context.hpp"
#include "tessera/sampler_schedule.hpp"

namespace tessera::cli {

// --sampler: ddpm, ddim or dpmpp2m (the default); Error naming any other.
SamplerKind sampler_option(const Args& a);

// --size WxH, or nullopt when it is not given; Error when it is not WxH.
std::optional<std::pair<int, int>> size_option(const Args& a);

// Prints each message the validation layer (TESSERA_VALIDATION=1) collected during the run and
// returns the commands' exit status for them, 3, or 0 when there were none: tests run with
// validation on and must see a command fail on any message.
int validation_status(const Context& ctx);

}  // namespace tessera::cli
