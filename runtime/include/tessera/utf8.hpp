// UTF-8 checks for names that end up in JSON (safetensors headers, model metadata): the JSON
// writer throws on invalid UTF-8, so callers check first and name the bad text themselves.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace tessera {

// Offset of the first byte that breaks UTF-8 (overlongs, surrogates and > U+10FFFF
// included), or npos.
size_t first_invalid_utf8(std::string_view s);

// `s` for messages and metadata: valid UTF-8 kept, every byte of an invalid sequence written
// as \xNN (a backslash is kept as is), cut after `max_bytes` input bytes with "..." and the
// total size appended. The result is always valid UTF-8.
std::string escape_invalid_utf8(std::string_view s, size_t max_bytes = 256);

// The one walk behind escape_invalid_utf8 and quote_name: the first `max_bytes` bytes of `s`
// (a UTF-8 sequence that crosses the limit is kept whole), valid UTF-8 as is, every byte of an
// invalid sequence as \xNN, and with escape_ascii_specials also ASCII control bytes, quotes and
// backslashes. *consumed: how many bytes of `s` it covered (less than s.size(): cut).
std::string escape_text(std::string_view s, size_t max_bytes, bool escape_ascii_specials, size_t* consumed);

}  // namespace tessera
