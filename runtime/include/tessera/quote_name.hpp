// Names from files and callers in messages: a hostile name may be huge or hold control bytes.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace tessera {

// Single-quoted and printable (control bytes, quotes and backslashes as \xNN), cut after
// max_shown bytes with the full length noted: "'abc...(1048576 bytes)'".
std::string quote_name(std::string_view s, size_t max_shown = 96);

}  // namespace tessera
