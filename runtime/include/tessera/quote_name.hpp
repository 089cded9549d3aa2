// Names from files and callers in messages: a hostile name may be huge or hold control bytes.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace tessera {

// Single-quoted, printable and valid UTF-8 (control bytes, quotes, backslashes and invalid
// UTF-8 as \xNN, see escape_text), cut after max_shown bytes with the full length noted:
// "'abc...(1048576 bytes)'". Every message that echoes a name or value uses it (the CLI's
// shown() too).
std::string quote_name(std::string_view s, size_t max_shown = 96);

}  // namespace tessera
