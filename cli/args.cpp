#include "args.hpp"

#include <charconv>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "tessera/quote_name.hpp"

namespace tessera::cli {

const char* const kArgumentRules =
    "options: --name VALUE or --name=VALUE (use the = form for a value starting with --);\n"
    "  flags: --name, or --name=true|false|yes|no|1|0 (false: as if not given); -h is --help;\n"
    "  each option at most once; integers are plain decimal within the option's range;\n"
    "  any other word is an error, except a command's documented arguments (info MODEL)\n";

namespace {

std::optional<bool> parse_bool(std::string_view text) {
  if (text == "true" || text == "yes" || text == "1") return true;
  if (text == "false" || text == "no" || text == "0") return false;
  return std::nullopt;
}

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

}  // namespace

std::optional<long long> parse_integer(std::string_view text, long long min, long long max) {
  long long v = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || v < min || v > max)
    return std::nullopt;
  return v;
}

std::string shown(std::string_view text) { return quote_name(text, 64); }

Args::Args(const std::vector<std::string>& args, const std::set<std::string>& options,
           const std::set<std::string>& flags, const std::vector<std::string>& positional_names) {
  std::set<std::string> given;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" && flags.count("help")) {
      values_["help"] = "";
      continue;
    }
    if (a.size() > 1 && a[0] == '-' && a[1] != '-')
      fail("unknown option " + shown(a) + " (options start with --; see --help)");
    if (a.rfind("--", 0) != 0) {
      if (positional_.size() == positional_names.size())
        fail("unexpected argument " + shown(a) +
             (positional_names.empty() ? " (this command takes only --options; see --help)" : " (see --help)"));
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (!options.count(name) && !flags.count(name)) {
      std::string known;
      for (const auto& o : options) known += " --" + o;
      for (const auto& f : flags) known += " --" + f;
      fail("unknown option " + shown("--" + name) + " (known:" + known + ")");
    }
    if (!given.insert(name).second) fail("option --" + name + " is given more than once");
    if (flags.count(name)) {
      std::optional<bool> on = inline_value ? parse_bool(*inline_value) : true;
      if (!on) fail("flag --" + name + " takes no value, or one of true/false/yes/no/1/0; got " + shown(*inline_value));
      if (*on) values_[name] = "";
      continue;
    }
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= args.size()) fail("option --" + name + " needs a value");
      if (args[i + 1].rfind("--", 0) == 0)
        fail("option --" + name + " needs a value, but the next word is the option " + shown(args[i + 1]) +
             " (write --" + name + "=VALUE for a value that starts with --)");
      value = args[++i];
    }
    values_[name] = value;
  }
}

std::string Args::str(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

long long Args::integer(const std::string& name, long long fallback, long long min, long long max) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  std::optional<long long> v = parse_integer(it->second, min, max);
  if (!v)
    fail("--" + name + " must be an integer in " + std::to_string(min) + ".." + std::to_string(max) + ", got " +
         shown(it->second));
  return *v;
}

double Args::number(const std::string& name, double fallback, double min, double max) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& text = it->second;
  double v = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || !(v >= min && v <= max)) {
    std::ostringstream o;
    o << "--" << name << " must be a number in [" << min << ", " << max << "], got " << shown(text);
    fail(o.str());
  }
  return v;
}

std::vector<std::string> Args::items(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return {};
  const std::string& text = it->second;
  std::vector<std::string> out;
  for (size_t start = 0; start <= text.size();) {
    size_t end = std::min(text.find(',', start), text.size());
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::vector<int> Args::int_list(const std::string& name, const std::vector<int>& fallback, int min) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  std::vector<int> out;
  std::string_view rest = it->second;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::optional<long long> v = parse_integer(rest.substr(0, comma), min, std::numeric_limits<int>::max());
    if (!v)
      fail("--" + name + " must be a comma-separated list of integers in " + std::to_string(min) + ".." +
           std::to_string(std::numeric_limits<int>::max()) + ", got " + shown(it->second));
    out.push_back(static_cast<int>(*v));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return out;
}

}  // namespace tessera::cli
