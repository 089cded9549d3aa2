#include "tessera/quote_name.hpp"

namespace tessera {

std::string quote_name(std::string_view s, size_t max_shown) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max_shown) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out + "'";
}

}  // namespace tessera
