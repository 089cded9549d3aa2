#include "tessera/quote_name.hpp"

#include "tessera/utf8.hpp"

namespace tessera {

std::string quote_name(std::string_view s, size_t max_shown) {
  size_t consumed = 0;
  std::string out = "'" + escape_text(s, max_shown, true, &consumed);
  if (consumed < s.size()) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out + "'";
}

}  // namespace tessera
