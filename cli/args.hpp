// Tiny "--name value" / "--flag" argument reader shared by the sub-commands; every problem is a
// clear error naming the option.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

namespace tessera::cli {

class Args {
 public:
  // `flags`: options that take no value. Throws on unknown options (listing the known ones).
  Args(const std::vector<std::string>& args, const std::set<std::string>& options, const std::set<std::string>& flags);
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string str(const std::string& name, const std::string& fallback) const;
  long long integer(const std::string& name, long long fallback, long long min, long long max) const;
  double number(const std::string& name, double fallback, double min, double max) const;
  std::vector<int> int_list(const std::string& name, const std::vector<int>& fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace tessera::cli
