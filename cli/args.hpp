// The one argument reader of every `tessera` sub-command, so that they all follow the same rules
// (printed by `tessera --help`, kRules below); every problem is an error naming the word:
// - an option is `--name VALUE` or `--name=VALUE`; a VALUE that starts with "--" needs the
//   `=` form (`--out --grid` is a missing value, not a file named "--grid");
// - a flag is `--name`, or `--name=BOOL` with BOOL one of true/false/yes/no/1/0; a false flag is
//   the same as leaving it out (`--unconditional=no` is not unconditional);
// - an option or flag given twice is an error (which one should win would be a guess);
// - a word that is not an option is an error, unless the command names positional arguments
//   (`tessera info MODEL`); a single-dash word (`-n 4`) is an error, except `-h` for `--help`;
// - integers are plain decimal and checked against the option's range with no overflow
//   (`--count 4294967297` is refused, not read as 1); numbers are decimal or exponent form.
// Values are echoed in messages shortened to a bounded length (shown()).
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::cli {

// The rules above in words, for `tessera --help`.
extern const char* const kArgumentRules;

// `text` as an integer in [min, max]; nullopt when it is not plain decimal (an optional '-' and
// digits only) or is outside the range, overflow included.
std::optional<long long> parse_integer(std::string_view text, long long min, long long max);

// `text` quoted for a message: at most 64 bytes of it, then how long it was.
std::string shown(std::string_view text);

class Args {
 public:
  // `options` take a value, `flags` do not. `positional_names` (e.g. {"MODEL"}) are the
  // positional arguments the command accepts, at most one word each; none by default.
  Args(const std::vector<std::string>& args, const std::set<std::string>& options, const std::set<std::string>& flags,
       const std::vector<std::string>& positional_names = {});
  // An option given, or a flag given as true.
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string str(const std::string& name, const std::string& fallback) const;
  long long integer(const std::string& name, long long fallback, long long min, long long max) const;
  double number(const std::string& name, double fallback, double min, double max) const;
  // The comma-separated items of option `name` as given (an empty item included), or none
  // when it is absent.
  std::vector<std::string> items(const std::string& name) const;
  // A comma-separated list of integers >= `min`.
  std::vector<int> int_list(const std::string& name, const std::vector<int>& fallback, int min = 0) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace tessera::cli
