// JSON held in a model file's metadata strings (tessera.config, tessera.classes) is parsed only
// after two checks that cost nothing but a scan: its size and its nesting depth. A hostile file
// can otherwise hand nlohmann a 90 MB string of nested brackets, which takes gigabytes of memory
// and tens of seconds to build before it is found to be the wrong type.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace tessera {

// Parses `text`; throws tessera::Error starting with `what` when it is longer than `max_bytes`,
// nests containers deeper than `max_depth` (1 = a flat list or object), or is not JSON.
nlohmann::json parse_bounded_json(std::string_view text, const std::string& what, size_t max_bytes, int max_depth);

}  // namespace tessera
