#include "args.hpp"

#include <sstream>
#include <stdexcept>

namespace tessera::cli {

Args::Args(const std::vector<std::string>& args, const std::set<std::string>& options,
           const std::set<std::string>& flags) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (options.count(name)) {
      if (i + 1 >= args.size()) throw std::runtime_error("option --" + name + " needs a value");
      value = args[++i];
    }
    if (!options.count(name) && !flags.count(name)) {
      std::string known;
      for (const auto& o : options) known += " --" + o;
      for (const auto& f : flags) known += " --" + f;
      throw std::runtime_error("unknown option --" + name + " (known:" + known + ")");
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
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(it->second, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != it->second.size() || v < min || v > max)
    throw std::runtime_error("--" + name + " must be an integer in " + std::to_string(min) + ".." +
                             std::to_string(max) + ", got '" + it->second + "'");
  return v;
}

double Args::number(const std::string& name, double fallback, double min, double max) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(it->second, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != it->second.size() || !(v >= min && v <= max)) {
    std::ostringstream o;
    o << "--" << name << " must be a number in [" << min << ", " << max << "], got '" << it->second << "'";
    throw std::runtime_error(o.str());
  }
  return v;
}

std::vector<int> Args::int_list(const std::string& name, const std::vector<int>& fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  std::vector<int> out;
  std::stringstream ss(it->second);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      int v = std::stoi(item, &used);
      if (used != item.size() || v < 0) throw 1;
      out.push_back(v);
    } catch (...) {
      throw std::runtime_error("--" + name + " must be a comma-separated list of non-negative integers, got '" +
                               it->second + "'");
    }
  }
  return out;
}

}  // namespace tessera::cli
