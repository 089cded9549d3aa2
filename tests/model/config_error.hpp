// The message UNetConfig::from_json gives for a JSON text ("" when it accepts it): what the
// config tests compare against.
#pragma once

#include <string>

#include "tessera/error.hpp"
#include "tessera/unet_config.hpp"

namespace tessera {

inline std::string config_error_of(const std::string& json) {
  try {
    UNetConfig::from_json(json);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace tessera
