#include "tessera/split_file.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "tessera/atomic_file.hpp"
#include "tessera/crc32.hpp"
#include "tessera/error.hpp"
#include "tessera/quote_name.hpp"
#include "tessera/safetensors.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kFormat = "tessera.split";
constexpr int kVersion = 1;
// A manifest of kMaxSplitParts parts is under 100 KB; anything much larger is not one.
constexpr uint64_t kMaxManifestBytes = 1 << 20;

std::string part_prefix(const std::string& file_name) { return file_name + ".part-"; }

std::string crc_text(uint32_t crc) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", crc);
  return text;
}

struct ListedPart {
  std::string name;
  uint64_t bytes;
  std::string crc32;
};

struct Manifest {
  uint64_t bytes = 0;
  std::vector<ListedPart> parts;
};

std::optional<uint64_t> as_u64(const Json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer() && j.get<int64_t>() >= 0) return static_cast<uint64_t>(j.get<int64_t>());
  return std::nullopt;
}

// The manifest's fields, every one checked: part names must be the ones derived from FILE's name
// (so a manifest cannot point outside its folder), sizes must add up to the total.
Manifest parse_manifest(const fs::path& manifest_path, const std::string& file_name) {
  const std::string source = manifest_path.string();
  auto bad = [&](const std::string& problem) { return Error(source + ": not a split-file manifest: " + problem); };
  std::error_code ec;
  const uint64_t size = fs::file_size(manifest_path, ec);
  if (!ec && size > kMaxManifestBytes)
    throw bad(std::to_string(size) + " bytes, more than any manifest (" + std::to_string(kMaxManifestBytes) + ")");
  const std::vector<std::byte> bytes = read_file_bytes(manifest_path);
  Json j = Json::parse(reinterpret_cast<const char*>(bytes.data()),
                       reinterpret_cast<const char*>(bytes.data()) + bytes.size(), nullptr, false);
  if (j.is_discarded()) throw bad("it is not valid JSON");
  if (!j.is_object()) throw bad("it is not a JSON object");
  if (j.value("format", Json()) != kFormat) throw bad("\"format\" is not \"" + std::string(kFormat) + "\"");
  if (j.value("version", Json()) != kVersion)
    throw bad("\"version\" is " + j.value("version", Json()).dump().substr(0, 32) + "; this reader knows version " +
              std::to_string(kVersion));
  Manifest m;
  std::optional<uint64_t> total = as_u64(j.value("bytes", Json()));
  if (!total) throw bad("\"bytes\" is not a non-negative integer");
  m.bytes = *total;
  const Json parts = j.value("parts", Json());
  if (!parts.is_array() || parts.empty() || parts.size() > static_cast<size_t>(kMaxSplitParts))
    throw bad("\"parts\" is not an array of 1 to " + std::to_string(kMaxSplitParts) + " parts");
  const int count = static_cast<int>(parts.size());
  uint64_t sum = 0;
  for (int i = 0; i < count; ++i) {
    const Json& p = parts[static_cast<size_t>(i)];
    const std::string which = "part " + std::to_string(i + 1) + " of " + std::to_string(count);
    const std::string expected = split_part_name(file_name, i, count);
    if (!p.is_object()) throw bad(which + " is not an object");
    const Json name = p.value("name", Json()), crc = p.value("crc32", Json());
    if (!name.is_string() || name.get_ref<const std::string&>() != expected)
      throw bad(which + " is named " + quote_name(name.is_string() ? name.get<std::string>() : name.dump()) + ", not " +
                quote_name(expected) + " (parts are named after the file, which is " + quote_name(file_name) + ")");
    std::optional<uint64_t> n = as_u64(p.value("bytes", Json()));
    if (!n || __builtin_add_overflow(sum, *n, &sum)) throw bad(which + ": \"bytes\" is not a usable size");
    if (!crc.is_string() || crc.get_ref<const std::string&>().size() != 8 ||
        crc.get_ref<const std::string&>().find_first_not_of("0123456789abcdef") != std::string::npos)
      throw bad(which + ": \"crc32\" is not 8 lower-case hex digits");
    m.parts.push_back({expected, *n, crc.get<std::string>()});
  }
  if (sum != m.bytes)
    throw bad("its parts hold " + std::to_string(sum) + " bytes together, and \"bytes\" says " +
              std::to_string(m.bytes));
  return m;
}

// Names in `folder` that start as FILE's parts do, folders aside (no split writes one).
std::vector<std::string> parts_lying_in(const fs::path& folder, const std::string& file_name) {
  std::vector<std::string> found;
  const std::string prefix = part_prefix(file_name);
  std::error_code ec;
  for (fs::directory_iterator it(folder.empty() ? "." : folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (name.rfind(prefix, 0) == 0 && !it->is_directory(type_ec)) found.push_back(std::move(name));
  }
  std::sort(found.begin(), found.end());
  return found;
}

// FILE's manifest, then its parts, that lie in its folder.
std::vector<fs::path> earlier_split(const fs::path& file) {
  std::vector<fs::path> found{split_manifest_path(file)};
  std::error_code ec;
  if (!fs::exists(found[0], ec)) found.clear();
  for (const std::string& name : parts_lying_in(file.parent_path(), file.filename().string()))
    found.push_back(file.parent_path() / name);
  return found;
}

std::string listed(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 4; ++i) out += (i ? ", " : "") + quote_name(names[i]);
  if (names.size() > 4) out += " and " + std::to_string(names.size() - 4) + " more";
  return out;
}

// Removes the listed files unless released: the parts of a split that failed part-way.
class WrittenParts {
 public:
  ~WrittenParts() {
    std::error_code ec;
    for (const fs::path& p : paths_) fs::remove(p, ec);
  }
  void add(fs::path p) { paths_.push_back(std::move(p)); }
  std::vector<fs::path> release() { return std::exchange(paths_, {}); }

 private:
  std::vector<fs::path> paths_;
};

}  // namespace

fs::path split_file_target(const fs::path& path) {
  const std::string name = path.filename().string();
  const std::string suffix = kSplitManifestSuffix;
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return path.parent_path() / name.substr(0, name.size() - suffix.size());
  return path;
}

fs::path split_manifest_path(const fs::path& file) {
  fs::path manifest = file;
  manifest += kSplitManifestSuffix;
  return manifest;
}

std::string split_part_name(const std::string& file_name, int index, int count) {
  char number[32];
  std::snprintf(number, sizeof number, "%03d-of-%03d", index, count);
  return part_prefix(file_name) + number;
}

std::vector<fs::path> write_split_file(const fs::path& file, std::span<const std::byte> bytes,
                                       uint64_t max_part_bytes) {
  if (max_part_bytes == 0) throw Error("cannot split '" + file.string() + "': the part size is 0 bytes");
  const uint64_t count = std::max<uint64_t>(1, bytes.size() / max_part_bytes + (bytes.size() % max_part_bytes != 0));
  if (count > static_cast<uint64_t>(kMaxSplitParts))
    throw Error("cannot split '" + file.string() + "' (" + std::to_string(bytes.size()) + " bytes) into parts of " +
                std::to_string(max_part_bytes) + " bytes: it would take " + std::to_string(count) +
                " parts, and the most is " + std::to_string(kMaxSplitParts));
  const std::string file_name = file.filename().string();
  const fs::path folder = file.parent_path();
  const fs::path manifest_path = split_manifest_path(file);
  // An earlier split of FILE goes first, manifest first: a split that stops part-way then leaves
  // no manifest, and no part of another split for a reader to mix in.
  for (const fs::path& earlier : earlier_split(file)) {
    std::error_code ec;
    fs::remove(earlier, ec);
    if (ec)
      throw Error("cannot split '" + file.string() + "': removing '" + earlier.string() + "' failed: " + ec.message());
  }

  WrittenParts written;
  Json parts = Json::array();
  for (uint64_t i = 0; i < count; ++i) {
    const auto part =
        bytes.subspan(i * max_part_bytes, std::min<uint64_t>(max_part_bytes, bytes.size() - i * max_part_bytes));
    const std::string name = split_part_name(file_name, static_cast<int>(i), static_cast<int>(count));
    write_file_atomically(folder / name, part);
    written.add(folder / name);
    parts.push_back({{"name", name}, {"bytes", part.size()}, {"crc32", crc_text(crc32(part))}});
  }
  const Json manifest = {{"format", kFormat}, {"version", kVersion}, {"bytes", bytes.size()}, {"parts", parts}};
  const std::string text = manifest.dump(1) + "\n";
  write_file_atomically(manifest_path, std::as_bytes(std::span(text)));
  std::vector<fs::path> paths = written.release();
  paths.push_back(manifest_path);
  return paths;
}

std::vector<std::byte> read_split_file(const fs::path& path) {
  const fs::path file = split_file_target(path);
  const fs::path manifest_path = split_manifest_path(file);
  const std::string file_name = file.filename().string();
  const Manifest m = parse_manifest(manifest_path, file_name);
  const std::string source = manifest_path.string();
  const int count = static_cast<int>(m.parts.size());

  std::set<std::string> names;
  for (const ListedPart& p : m.parts) names.insert(p.name);
  for (const std::string& name : parts_lying_in(file.parent_path(), file_name))
    if (!names.count(name))
      throw Error(source + ": " + quote_name(name) +
                  " lies beside the parts but the manifest does not list it (left by another split of " +
                  quote_name(file_name) + "?): remove it, or split the file again");

  auto which = [&](int i) {
    return "part " + std::to_string(i + 1) + " of " + std::to_string(count) + " '" +
           (file.parent_path() / m.parts[static_cast<size_t>(i)].name).string() + "'";
  };
  std::vector<std::byte> bytes;
  // Sizes first, so that no buffer is sized from a manifest the parts do not bear out.
  for (int i = 0; i < count; ++i) {
    const ListedPart& p = m.parts[static_cast<size_t>(i)];
    const fs::path part_path = file.parent_path() / p.name;
    std::error_code ec;
    if (!fs::exists(part_path, ec)) throw Error(source + ": " + which(i) + " is missing");
    const uint64_t size = fs::file_size(part_path, ec);
    if (!ec && size != p.bytes)
      throw Error(source + ": " + which(i) + " is " + std::to_string(size) + " bytes, the manifest says " +
                  std::to_string(p.bytes) + (size < p.bytes ? " (cut short?)" : " (too long)"));
  }
  try {
    bytes.reserve(m.bytes);
  } catch (const std::bad_alloc&) {
    throw Error(source + ": cannot hold the file's " + std::to_string(m.bytes) + " bytes in memory");
  }
  for (int i = 0; i < count; ++i) {
    const ListedPart& p = m.parts[static_cast<size_t>(i)];
    const fs::path part_path = file.parent_path() / p.name;
    std::vector<std::byte> part;
    try {
      part = read_file_bytes(part_path);
    } catch (const Error& e) {
      throw Error(source + ": " + which(i) + ": " + e.what());
    }
    // Checked again after reading: the part may have changed since its size was taken.
    if (part.size() != p.bytes)
      throw Error(source + ": " + which(i) + " is " + std::to_string(part.size()) + " bytes, the manifest says " +
                  std::to_string(p.bytes));
    if (const std::string crc = crc_text(crc32(part)); crc != p.crc32)
      throw Error(source + ": " + which(i) + " is corrupt: its CRC-32 is " + crc + ", the manifest says " + p.crc32);
    bytes.insert(bytes.end(), part.begin(), part.end());
  }
  return bytes;
}

std::vector<std::byte> read_file_or_parts(const fs::path& path) {
  const fs::path file = split_file_target(path);
  std::error_code ec;
  if (file != path || (!fs::exists(file, ec) && fs::exists(split_manifest_path(file), ec)))
    return read_split_file(file);
  if (!fs::exists(file, ec)) {
    const std::vector<std::string> parts = parts_lying_in(file.parent_path(), file.filename().string());
    if (!parts.empty())
      throw Error(file.string() + ": no such file, and its parts " + listed(parts) + " have no manifest '" +
                  split_manifest_path(file).string() + "' (a split that did not finish?)");
  }
  return read_file_bytes(file);
}

uint64_t file_or_parts_size(const fs::path& path) {
  const fs::path file = split_file_target(path);
  std::error_code ec;
  if (file == path && fs::exists(file, ec)) return fs::file_size(file);
  return parse_manifest(split_manifest_path(file), file.filename().string()).bytes;
}

}  // namespace tessera
