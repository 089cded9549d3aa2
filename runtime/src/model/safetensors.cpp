#include "tessera/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <utility>

#include "tessera/atomic_file.hpp"
#include "tessera/error.hpp"
#include "tessera/quote_name.hpp"
#include "tessera/split_file.hpp"
#include "tessera/utf8.hpp"

namespace tessera {
namespace {

using Json = nlohmann::json;

struct DTypeInfo {
  SafetensorsDType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {SafetensorsDType::BOOL, "BOOL", 1},       {SafetensorsDType::U8, "U8", 1},
    {SafetensorsDType::I8, "I8", 1},           {SafetensorsDType::F8_E5M2, "F8_E5M2", 1},
    {SafetensorsDType::F8_E4M3, "F8_E4M3", 1}, {SafetensorsDType::I16, "I16", 2},
    {SafetensorsDType::U16, "U16", 2},         {SafetensorsDType::F16, "F16", 2},
    {SafetensorsDType::BF16, "BF16", 2},       {SafetensorsDType::I32, "I32", 4},
    {SafetensorsDType::U32, "U32", 4},         {SafetensorsDType::F32, "F32", 4},
    {SafetensorsDType::I64, "I64", 8},         {SafetensorsDType::U64, "U64", 8},
    {SafetensorsDType::F64, "F64", 8},
};

const DTypeInfo& info(SafetensorsDType t) {
  for (const DTypeInfo& d : kDTypes)
    if (d.dtype == t) return d;
  throw Error("safetensors: invalid SafetensorsDType value " + std::to_string(static_cast<int>(t)));
}

std::string shape_text(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

std::string range_text(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + "," + std::to_string(end) + ")";
}

// Collects problems up to a bound so a hostile header with millions of bad entries still
// gives a readable (and bounded) message; the count of the rest is kept.
class ProblemList {
 public:
  static constexpr size_t kMaxListed = 64;
  void add(std::string problem) {
    if (listed_.size() < kMaxListed)
      listed_.push_back(std::move(problem));
    else
      ++unlisted_;
  }
  bool empty() const { return listed_.empty(); }
  std::vector<std::string> take() {
    if (unlisted_) listed_.push_back("and " + std::to_string(unlisted_) + " more");
    return std::move(listed_);
  }

 private:
  std::vector<std::string> listed_;
  size_t unlisted_ = 0;
};

const char* json_kind(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a non-integer number";
    default:
      return "an unexpected JSON value";
  }
}

// Builds the header's JSON value from nlohmann's SAX events. The SAX interface rather than
// nlohmann's DOM parser because: duplicate keys must be seen (the DOM keeps the last one
// silently); nesting deeper than any valid header is refused at once instead of built; and
// the DOM parser's callback mode rescans a parent object after every child object, which
// is quadratic in the number of tensors on a hostile header.
class HeaderSax final : public nlohmann::json_sax<Json> {
 public:
  // Deepest container a valid header has: root (depth 0) > entry (1) > shape array (2).
  // One more level is accepted so "shape": [[1]] is reported as a bad element.
  static constexpr size_t kMaxContainerDepth = 3;

  Json root;
  std::unordered_map<std::string, size_t> top_key_count;
  std::vector<std::string> top_keys_repeated;  // in first-repeat order
  std::set<std::pair<std::string, std::string>> repeated_fields;
  bool too_deep = false;
  std::string error;  // nlohmann's parse error text, when parsing stopped on one

  bool null() override { return put(Json(nullptr)); }
  bool boolean(bool v) override { return put(Json(v)); }
  bool number_integer(number_integer_t v) override { return put(Json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(Json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return put(Json(v)); }
  bool string(string_t& v) override { return put(Json(std::move(v))); }
  bool binary(binary_t&) override { return false; }  // JSON text has no binary values

  bool start_object(std::size_t) override { return open(Json::object()); }
  bool start_array(std::size_t) override { return open(Json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool key(string_t& k) override {
    if (stack_.size() == 1) {
      if (++top_key_count[k] == 2) top_keys_repeated.push_back(k);
      current_entry_ = k;
      current_entry_fields_.clear();
    } else if (stack_.size() == 2 && !current_entry_fields_.insert(k).second) {
      repeated_fields.emplace(current_entry_, k);
    }
    // A repeated key overwrites: the value checked is the last, as in other readers.
    slot_ = &(*stack_.back())[k];
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    error = ex.what();
    return false;
  }

 private:
  // Places a finished value in its container (or as the root); returns where it lives.
  Json* place(Json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    if (stack_.back()->is_array()) {
      stack_.back()->push_back(std::move(v));
      return &stack_.back()->back();
    }
    *slot_ = std::move(v);
    return slot_;
  }
  bool put(Json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(Json&& container) {
    if (stack_.size() > kMaxContainerDepth) {
      too_deep = true;
      return false;
    }
    // The container is only appended to while it is the innermost one, so pointers to it
    // (and to its parent's element holding it) stay valid until it closes.
    stack_.push_back(place(std::move(container)));
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  std::vector<Json*> stack_;
  Json* slot_ = nullptr;
  std::string current_entry_;
  std::set<std::string> current_entry_fields_;
};

// Reads a non-negative integer that fits in uint64; nullopt for anything else.
std::optional<uint64_t> as_u64(const Json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if (v >= 0) return static_cast<uint64_t>(v);
  }
  return std::nullopt;
}

struct CheckedEntry {
  std::string name;
  std::optional<SafetensorsDType> dtype;
  std::optional<Shape> shape;
  std::optional<int64_t> numel;
  std::optional<std::pair<uint64_t, uint64_t>> offsets;  // begin <= end <= data section size
};

CheckedEntry check_entry(const std::string& name, const Json& entry, uint64_t data_bytes, ProblemList& problems,
                         std::vector<std::string>& notes) {
  CheckedEntry out;
  out.name = name;
  const std::string who = "tensor " + quote_name(name);
  if (!entry.is_object()) {
    problems.add(who + ": entry is " + json_kind(entry) + ", not an object with dtype, shape and data_offsets");
    return out;
  }
  for (const auto& [field, value] : entry.items()) {
    (void)value;
    if (field != "dtype" && field != "shape" && field != "data_offsets")
      notes.push_back(who + ": ignored unknown field " + quote_name(field));
  }

  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end()) {
    problems.add(who + ": missing field 'dtype'");
  } else if (!dtype_it->is_string()) {
    problems.add(who + ": dtype is " + json_kind(*dtype_it) + ", not a string");
  } else {
    const std::string& text = dtype_it->get_ref<const std::string&>();
    out.dtype = parse_safetensors_dtype(text);
    if (!out.dtype) problems.add(who + ": dtype " + quote_name(text) + " unknown");
  }

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end()) {
    problems.add(who + ": missing field 'shape'");
  } else if (!shape_it->is_array()) {
    problems.add(who + ": shape is " + json_kind(*shape_it) + ", not an array of integers");
  } else {
    Shape shape;
    bool ok = true;
    int64_t numel = 1;
    bool overflow = false;
    for (size_t i = 0; i < shape_it->size(); ++i) {
      const Json& d = (*shape_it)[i];
      if (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0) {
        problems.add(who + ": shape[" + std::to_string(i) + "] is negative (" + std::to_string(d.get<int64_t>()) + ")");
        ok = false;
        continue;
      }
      std::optional<uint64_t> v = as_u64(d);
      if (!v) {
        problems.add(who + ": shape[" + std::to_string(i) + "] is " + json_kind(d) + ", not an integer");
        ok = false;
        continue;
      }
      if (*v > static_cast<uint64_t>(INT64_MAX)) {
        problems.add(who + ": shape[" + std::to_string(i) + "] = " + std::to_string(*v) + " is too large");
        ok = false;
        continue;
      }
      shape.push_back(static_cast<int64_t>(*v));
      if (!overflow && __builtin_mul_overflow(numel, static_cast<int64_t>(*v), &numel)) overflow = true;
    }
    if (ok) {
      out.shape = shape;
      if (overflow)
        problems.add(who + ": shape " + shape_text(shape) + " has more elements than fit in 64 bits");
      else
        out.numel = numel;
    }
  }

  auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end()) {
    problems.add(who + ": missing field 'data_offsets'");
  } else if (!offsets_it->is_array() || offsets_it->size() != 2 || !as_u64((*offsets_it)[0]) ||
             !as_u64((*offsets_it)[1])) {
    problems.add(who + ": data_offsets is not an array of two non-negative integers");
  } else {
    uint64_t begin = *as_u64((*offsets_it)[0]);
    uint64_t end = *as_u64((*offsets_it)[1]);
    if (begin > end) {
      problems.add(who + ": data_offsets begin " + std::to_string(begin) + " > end " + std::to_string(end));
    } else if (end > data_bytes) {
      problems.add(who + ": data_offsets " + range_text(begin, end) + " end beyond the data section (" +
                   std::to_string(data_bytes) + " bytes)");
    } else {
      out.offsets = std::make_pair(begin, end);
    }
  }

  if (out.dtype && out.numel && out.offsets) {
    uint64_t need;
    const uint64_t have = out.offsets->second - out.offsets->first;
    if (__builtin_mul_overflow(static_cast<uint64_t>(*out.numel), info(*out.dtype).size, &need)) {
      problems.add(who + ": shape " + shape_text(*out.shape) + " " + info(*out.dtype).name +
                   " needs more bytes than fit in 64 bits");
    } else if (need != have) {
      problems.add(who + ": data_offsets " + range_text(out.offsets->first, out.offsets->second) + " hold " +
                   std::to_string(have) + " bytes, shape " + shape_text(*out.shape) + " " + info(*out.dtype).name +
                   " needs " + std::to_string(need));
    }
  }
  return out;
}

void check_metadata(const Json& meta, std::map<std::string, std::string>& out, ProblemList& problems) {
  if (!meta.is_object()) {
    problems.add(std::string("__metadata__ is ") + json_kind(meta) + ", not an object of strings");
    return;
  }
  for (const auto& [key, value] : meta.items()) {
    if (value.is_string())
      out.emplace(key, value.get_ref<const std::string&>());
    else
      problems.add("metadata " + quote_name(key) + " is " + json_kind(value) + ", not a string");
  }
}

// Overlaps are problems; unused bytes are legal but noted.
void check_layout(std::vector<const CheckedEntry*> placed, uint64_t data_bytes, ProblemList& problems,
                  std::vector<std::string>& notes) {
  std::sort(placed.begin(), placed.end(), [](const CheckedEntry* a, const CheckedEntry* b) {
    return a->offsets < b->offsets || (a->offsets == b->offsets && a->name < b->name);
  });
  uint64_t covered_end = 0;
  const CheckedEntry* last_owner = nullptr;  // the tensor reaching covered_end
  for (const CheckedEntry* e : placed) {
    auto [begin, end] = *e->offsets;
    if (begin == end) continue;  // occupies no bytes
    if (begin < covered_end) {
      problems.add("tensors " + quote_name(last_owner->name) + " " +
                   range_text(last_owner->offsets->first, last_owner->offsets->second) + " and " + quote_name(e->name) +
                   " " + range_text(begin, end) + " overlap");
    } else if (begin > covered_end) {
      notes.push_back(std::to_string(begin - covered_end) + " unused bytes before tensor " + quote_name(e->name));
    }
    if (end > covered_end) covered_end = end, last_owner = e;
  }
  if (covered_end < data_bytes)
    notes.push_back(std::to_string(data_bytes - covered_end) + " unused bytes after the last tensor");
}

[[noreturn]] void fail(const std::string& source, std::string problem) {
  throw FormatError(source, std::vector<std::string>{std::move(problem)});
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

size_t safetensors_dtype_size(SafetensorsDType t) { return info(t).size; }
const char* safetensors_dtype_name(SafetensorsDType t) { return info(t).name; }

std::optional<SafetensorsDType> parse_safetensors_dtype(std::string_view name) {
  for (const DTypeInfo& d : kDTypes)
    if (name == d.name) return d.dtype;
  return std::nullopt;
}

std::optional<DType> runtime_dtype(SafetensorsDType t) {
  switch (t) {
    case SafetensorsDType::F32:
      return DType::F32;
    case SafetensorsDType::F16:
      return DType::F16;
    case SafetensorsDType::U32:
      return DType::U32;
    case SafetensorsDType::I32:
      return DType::I32;
    case SafetensorsDType::U8:
      return DType::U8;
    default:
      return std::nullopt;
  }
}

SafetensorsDType safetensors_dtype(DType t) {
  switch (t) {
    case DType::F32:
      return SafetensorsDType::F32;
    case DType::F16:
      return SafetensorsDType::F16;
    case DType::U32:
      return SafetensorsDType::U32;
    case DType::I32:
      return SafetensorsDType::I32;
    case DType::U8:
      return SafetensorsDType::U8;
  }
  throw Error("safetensors: invalid DType value " + std::to_string(static_cast<int>(t)));
}

int64_t SafetensorsTensor::numel() const {
  // A loaded tensor's shape was checked; this guards tensors a caller filled in by hand.
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n))
      throw Error("tensor " + quote_name(name) + ": invalid shape " + shape_text(shape));
  return n;
}

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> bytes, const std::string& source) {
  return from_bytes(std::vector<std::byte>(bytes.begin(), bytes.end()), source);
}

std::vector<std::byte> read_file_bytes(const std::filesystem::path& path) {
  const std::string source = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(source + ": cannot open: " + errno_text(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(source + ": cannot stat: " + errno_text(errno));
  // Checked before sizing the buffer: a directory's st_size is no byte count.
  if (S_ISDIR(st.st_mode)) throw Error(source + ": is a directory");
  if (!S_ISREG(st.st_mode)) throw Error(source + ": not a regular file");
  std::vector<std::byte> bytes;
  try {
    bytes.resize(static_cast<size_t>(st.st_size));
  } catch (const std::bad_alloc&) {
    throw Error(source + ": cannot hold the file's " + std::to_string(st.st_size) + " bytes in memory");
  }
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(source + ": read failed: " + errno_text(errno));
    if (n == 0) break;  // the file shrank while being read: parse what is there
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

SafetensorsFile SafetensorsFile::load(const std::filesystem::path& path) {
  return from_bytes(read_file_or_parts(path), path.string());
}

SafetensorsFile SafetensorsFile::from_bytes(std::vector<std::byte> owned, const std::string& source) {
  SafetensorsFile file;
  file.source_ = source;
  auto bytes = std::make_shared<const std::vector<std::byte>>(std::move(owned));
  file.bytes_ = bytes;
  const uint64_t size = bytes->size();

  if (size < 8) fail(source, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length field");
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | static_cast<uint8_t>((*bytes)[i]);
  if (header_bytes == 0) fail(source, "header length is 0 (no JSON header)");
  if (header_bytes > kSafetensorsMaxHeaderBytes)
    fail(source, "header length " + std::to_string(header_bytes) + " exceeds the limit of " +
                     std::to_string(kSafetensorsMaxHeaderBytes) + " bytes");
  if (header_bytes > size - 8)
    fail(source, "header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
                     std::to_string(size - 8) + " bytes follow the length field)");
  file.header_bytes_ = header_bytes;
  const std::string_view header(reinterpret_cast<const char*>(bytes->data()) + 8, header_bytes);
  const uint64_t data_bytes = size - 8 - header_bytes;

  if (size_t bad = first_invalid_utf8(header); bad != std::string_view::npos)
    fail(source, "header is not valid UTF-8 (byte " + std::to_string(bad) + " of the header)");
  // nlohmann's lexer takes a NUL byte for the end of input and would ignore what follows it;
  // JSON text never contains one.
  if (size_t nul = header.find('\0'); nul != std::string_view::npos)
    fail(source, "header is not valid JSON: NUL byte at byte " + std::to_string(nul) + " of the header");

  HeaderSax sax;
  bool parsed = false;
  try {
    parsed = Json::sax_parse(header.begin(), header.end(), &sax);
  } catch (const Json::exception& e) {
    sax.error = e.what();
  } catch (const std::bad_alloc&) {
    fail(source, "header JSON needs more memory than is available");
  }
  if (sax.too_deep)
    fail(source, "header JSON nests deeper than " + std::to_string(HeaderSax::kMaxContainerDepth + 1) +
                     " levels (no valid header does)");
  if (!parsed) {
    std::string what = sax.error.empty() ? "parse stopped" : sax.error;
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; the rest says where and why.
    if (size_t close = what.find("] "); what.rfind("[json.exception.", 0) == 0 && close != std::string::npos)
      what.erase(0, close + 2);
    fail(source, "header is not valid JSON: " + what);
  }
  const Json& root = sax.root;
  if (!root.is_object()) fail(source, std::string("header is ") + json_kind(root) + ", not a JSON object");

  ProblemList problems;
  for (const std::string& name : sax.top_keys_repeated) {
    const std::string count = std::to_string(sax.top_key_count[name]);
    problems.add(name == "__metadata__" ? "__metadata__ appears " + count + " times"
                                        : "tensor name " + quote_name(name) + " appears " + count + " times");
  }
  for (const auto& [entry, field] : sax.repeated_fields)
    problems.add((entry == "__metadata__" ? "metadata key " + quote_name(field)
                                          : "tensor " + quote_name(entry) + ": field " + quote_name(field)) +
                 " appears more than once");

  std::vector<CheckedEntry> entries;
  entries.reserve(root.size());
  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__")
      check_metadata(value, file.metadata_, problems);
    else
      entries.push_back(check_entry(name, value, data_bytes, problems, file.notes_));
  }
  std::vector<const CheckedEntry*> placed;
  for (const CheckedEntry& e : entries)
    if (e.offsets) placed.push_back(&e);
  check_layout(std::move(placed), data_bytes, problems, file.notes_);
  if (!problems.empty()) throw FormatError(source, problems.take());
  constexpr size_t kMaxNotes = 64;
  if (file.notes_.size() > kMaxNotes) {
    size_t more = file.notes_.size() - kMaxNotes;
    file.notes_.resize(kMaxNotes);
    file.notes_.push_back("and " + std::to_string(more) + " more");
  }

  const std::byte* data = bytes->data() + 8 + header_bytes;
  file.tensors_.reserve(entries.size());
  for (CheckedEntry& e : entries) {  // root's keys iterate in sorted order
    SafetensorsTensor t;
    t.name = std::move(e.name);
    t.dtype = *e.dtype;
    t.shape = std::move(*e.shape);
    t.data_begin = e.offsets->first;
    t.data = std::span<const std::byte>(data + e.offsets->first, e.offsets->second - e.offsets->first);
    file.tensors_.push_back(std::move(t));
  }
  return file;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const SafetensorsTensor& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

const SafetensorsTensor& SafetensorsFile::tensor(std::string_view name) const {
  if (const SafetensorsTensor* t = find(name)) return *t;
  fail(source_, "no tensor " + quote_name(name));
}

std::optional<std::string> SafetensorsFile::metadata_value(std::string_view key) const {
  auto it = metadata_.find(std::string(key));
  if (it == metadata_.end()) return std::nullopt;
  return it->second;
}

const std::string& SafetensorsFile::require_metadata(std::string_view key) const {
  auto it = metadata_.find(std::string(key));
  if (it == metadata_.end()) fail(source_, "metadata " + quote_name(key) + " missing");
  return it->second;
}

// --- writing ---------------------------------------------------------------------------------

std::vector<std::byte> serialize_safetensors(std::span<const SafetensorsTensorData> tensors,
                                             const std::map<std::string, std::string>& metadata) {
  std::vector<std::string> problems;
  std::set<std::string_view> names;
  for (const SafetensorsTensorData& t : tensors) {
    const std::string who = "tensor " + quote_name(t.name);
    if (t.name == "__metadata__") problems.push_back(who + ": name is reserved for the metadata");
    if (!names.insert(t.name).second) problems.push_back(who + ": given more than once");
    int64_t numel = 1;
    bool valid = true;
    for (int64_t d : t.shape)
      if (d < 0 || __builtin_mul_overflow(numel, d, &numel)) valid = false;
    uint64_t need = 0;
    if (!valid || __builtin_mul_overflow(static_cast<uint64_t>(numel), safetensors_dtype_size(t.dtype), &need)) {
      problems.push_back(who + ": invalid shape " + shape_text(t.shape));
    } else if (need != t.data.size()) {
      problems.push_back(who + ": shape " + shape_text(t.shape) + " " + safetensors_dtype_name(t.dtype) + " needs " +
                         std::to_string(need) + " bytes, data holds " + std::to_string(t.data.size()));
    }
  }
  if (!problems.empty()) throw FormatError("safetensors writer", std::move(problems));

  // Larger elements first keeps every tensor naturally aligned without padding between
  // tensors (the reference reader rejects gaps).
  std::vector<const SafetensorsTensorData*> order;
  for (const SafetensorsTensorData& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const SafetensorsTensorData* a, const SafetensorsTensorData* b) {
    size_t sa = safetensors_dtype_size(a->dtype), sb = safetensors_dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });

  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const SafetensorsTensorData* t : order) {
    const uint64_t end = offset + t->data.size();
    header[t->name] = {
        {"dtype", safetensors_dtype_name(t->dtype)}, {"shape", t->shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {
    throw Error(std::string("safetensors writer: a tensor name or metadata string is not valid UTF-8 (") + e.what() +
                ")");
  }
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');

  std::vector<std::byte> out(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((text.size() >> (8 * i)) & 0xFF);
  std::memcpy(out.data() + 8, text.data(), text.size());
  std::byte* data = out.data() + 8 + text.size();
  for (const SafetensorsTensorData* t : order) {
    if (!t->data.empty()) std::memcpy(data, t->data.data(), t->data.size());
    data += t->data.size();
  }
  return out;
}

void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsTensorData> tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::vector<std::byte> bytes = serialize_safetensors(tensors, metadata);
  const std::string target = quote_name(path.string(), SIZE_MAX);
  if (!path.has_filename()) throw Error("cannot write " + target + ": the path names no file");
  write_file_atomically(path, bytes, target);
}

// --- value check -------------------------------------------------------------------------------

std::vector<std::string> non_finite_f32_problems(const SafetensorsFile& file, size_t max_listed) {
  std::vector<std::string> out;
  size_t unlisted = 0;
  for (const SafetensorsTensor& t : file.tensors()) {
    if (t.dtype != SafetensorsDType::F32) continue;
    // Exponent bits all ones is NaN or infinity. The bits are copied out because a hostile
    // file may place an F32 tensor at an offset that is not a multiple of 4.
    const size_t count = t.data.size() / 4;
    size_t nan = 0, inf = 0;
    for (size_t i = 0; i < count; ++i) {
      uint32_t bits;
      std::memcpy(&bits, t.data.data() + 4 * i, 4);
      if ((bits & 0x7f800000u) == 0x7f800000u) ++((bits & 0x007fffffu) ? nan : inf);
    }
    if (nan + inf == 0) continue;
    if (out.size() >= max_listed) {
      ++unlisted;
      continue;
    }
    std::string what;
    if (nan) what += std::to_string(nan) + " NaN";
    if (inf) what += std::string(nan ? " and " : "") + std::to_string(inf) + " infinite";
    out.push_back("tensor " + quote_name(t.name) + " holds " + what + " of " + std::to_string(count) +
                  " values (weights must be finite)");
  }
  if (unlisted) out.push_back("and " + std::to_string(unlisted) + " more tensors with NaN or infinite values");
  return out;
}

// --- config check ------------------------------------------------------------------------------

ExpectedTensors& ExpectedTensors::expect_tensor(std::string name, SafetensorsDType dtype, Shape shape) {
  if (expected_.count(name)) throw Error("ExpectedTensors: tensor " + quote_name(name) + " expected twice");
  expected_.emplace(std::move(name), Expected{dtype, std::move(shape)});
  return *this;
}

std::vector<std::string> ExpectedTensors::problems(const SafetensorsFile& file, bool allow_unexpected) const {
  std::vector<std::string> out;
  for (const auto& [name, want] : expected_) {
    const SafetensorsTensor* t = file.find(name);
    if (!t) {
      out.push_back("missing tensor " + quote_name(name) + " (config expects " + shape_text(want.shape) + " " +
                    safetensors_dtype_name(want.dtype) + ")");
      continue;
    }
    if (t->shape != want.shape)
      out.push_back("tensor " + quote_name(name) + " has shape " + shape_text(t->shape) + ", config expects " +
                    shape_text(want.shape));
    if (t->dtype != want.dtype)
      out.push_back("tensor " + quote_name(name) + " has dtype " + safetensors_dtype_name(t->dtype) +
                    ", config expects " + safetensors_dtype_name(want.dtype));
  }
  if (!allow_unexpected) {
    for (const SafetensorsTensor& t : file.tensors())
      if (!expected_.count(t.name))
        out.push_back("unexpected tensor " + quote_name(t.name) + " " + shape_text(t.shape) + " " +
                      safetensors_dtype_name(t.dtype) + " (not in the config)");
  }
  return out;
}

void ExpectedTensors::check(const SafetensorsFile& file, bool allow_unexpected) const {
  std::vector<std::string> found = problems(file, allow_unexpected);
  if (!found.empty()) throw FormatError(file.source(), std::move(found));
}

}  // namespace tessera
