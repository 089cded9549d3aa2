#include "model/bounded_json.hpp"

#include <algorithm>

#include "tessera/error.hpp"

namespace tessera {

namespace {

// Deepest bracket nesting outside string literals, stopping once it passes `limit`. Exact for
// valid JSON; for invalid text it may miscount, which is harmless as the parser then refuses it.
int nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size() && deepest <= limit; ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // skips the escaped character, a quote included
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

nlohmann::json parse_bounded_json(std::string_view text, const std::string& what, size_t max_bytes, int max_depth) {
  if (text.size() > max_bytes)
    throw Error(what + " is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                std::to_string(max_bytes));
  if (nesting_depth(text, max_depth) > max_depth)
    throw Error(what + " nests deeper than " + std::to_string(max_depth) + " level" + (max_depth == 1 ? "" : "s") +
                " of lists/objects");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(what + " is not valid JSON");
  return j;
}

}  // namespace tessera
