// Safetensors model files (SPEC §7): read with every header problem named, written atomically.
//
// Layout: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON, then the data
// section. The JSON maps tensor name -> {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__" object of
// string -> string. Tessera keeps its config, class names and provenance in that metadata.
//
// The reader treats every file as hostile: it never reads outside the bytes it was given,
// does all size arithmetic with overflow checks, and throws one FormatError listing every
// problem it found in the header rather than stopping at the first.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/tensor.hpp"

namespace tessera {

// Element types a safetensors file may name. Only some of them exist on the device
// (runtime_dtype); the rest can still be read and written as bytes.
enum class SafetensorsDType : uint8_t {
  BOOL,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  I64,
  U64,
  F64
};

size_t safetensors_dtype_size(SafetensorsDType);
const char* safetensors_dtype_name(SafetensorsDType);  // "F32", as spelled in the header
std::optional<SafetensorsDType> parse_safetensors_dtype(std::string_view name);
std::optional<DType> runtime_dtype(SafetensorsDType);
SafetensorsDType safetensors_dtype(DType);

// Metadata keys Tessera writes (values are strings; config and classes hold JSON text).
inline constexpr const char* kMetadataFormatVersion = "tessera.format_version";
inline constexpr const char* kMetadataConfig = "tessera.config";
inline constexpr const char* kMetadataClasses = "tessera.classes";
inline constexpr const char* kMetadataProvenancePrefix = "tessera.provenance.";

// Limits the reader enforces. The header limit is the one the reference implementation uses.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

struct SafetensorsTensor {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::F32;
  Shape shape;
  uint64_t data_begin = 0;          // offset of the first byte within the data section
  std::span<const std::byte> data;  // the tensor's bytes, inside the owning SafetensorsFile

  int64_t numel() const;  // throws Error if the shape is negative or overflows (only hand-built ones can)
};

// The whole of a regular file. Throws Error "<path>: cannot open: <reason>", "<path>: is a
// directory", "<path>: not a regular file" or "<path>: read failed: <reason>".
std::vector<std::byte> read_file_bytes(const std::filesystem::path& path);

// A parsed file. It owns the file's bytes; tensors' data spans point into them and stay valid
// as long as any copy of this object lives (copies share the bytes).
class SafetensorsFile {
 public:
  // Reads the whole file, or its parts when it was split (tessera/split_file.hpp: read_file_or_parts).
  // Throws Error if it cannot be read, FormatError if it is malformed.
  static SafetensorsFile load(const std::filesystem::path& path);
  // Parses bytes already in memory (copied). `source` names them in error messages.
  static SafetensorsFile parse(std::span<const std::byte> bytes, const std::string& source = "<memory>");

  const std::string& source() const { return source_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // sorted by name
  const SafetensorsTensor* find(std::string_view name) const;                 // nullptr if absent
  // Throws FormatError naming the file and the tensor if absent.
  const SafetensorsTensor& tensor(std::string_view name) const;

  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::optional<std::string> metadata_value(std::string_view key) const;
  // Throws FormatError naming the file and the key if absent.
  const std::string& require_metadata(std::string_view key) const;

  // Legal but unusual layout facts: unused bytes between tensors or after the last one. The
  // reference implementation rejects such files; this reader accepts them and says so here.
  const std::vector<std::string>& notes() const { return notes_; }
  uint64_t header_bytes() const { return header_bytes_; }

 private:
  static SafetensorsFile from_bytes(std::vector<std::byte> bytes, const std::string& source);

  std::string source_;
  std::shared_ptr<const std::vector<std::byte>> bytes_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::string> notes_;
  uint64_t header_bytes_ = 0;
};

// One tensor to write. `data` must hold exactly numel * dtype size bytes.
struct SafetensorsTensorData {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::F32;
  Shape shape;
  std::span<const std::byte> data;
};

// The file's bytes. Deterministic: header keys sorted by name, tensors stored contiguously
// ordered by (element size descending, name) so every tensor starts at a multiple of its
// element size, and the header padded with spaces so the data section starts 8-byte
// aligned (what the reference writer does, so the reference reader accepts our files).
// Throws Error (naming the tensor) on a duplicate or reserved name, a negative dimension,
// a data size that does not match the shape, or metadata that is not valid UTF-8.
std::vector<std::byte> serialize_safetensors(std::span<const SafetensorsTensorData> tensors,
                                             const std::map<std::string, std::string>& metadata);

// Writes serialize_safetensors(...) to `path` atomically: a temporary file in the same
// directory, fsync, rename over `path`, fsync of the directory. On any error the temporary
// file is removed, `path` is left as it was, and Error names the path and the failing step.
void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsTensorData> tensors,
                       const std::map<std::string, std::string>& metadata);

// One problem per F32 tensor that holds NaN or infinity, naming it and counting such values (in
// name order, at most `max_listed` and then "and N more"). Model weights must be finite: NaN
// weights would turn every sample black without an error. A scan of the bits: 0.5 ms for the
// bundled model's 6.5 MB (docs/model-format.md).
std::vector<std::string> non_finite_f32_problems(const SafetensorsFile& file, size_t max_listed = 16);

// What a model config expects a file to hold. check() reports every mismatch at once:
// wrong shape or dtype, missing tensors and (unless allowed) tensors the config does not know.
class ExpectedTensors {
 public:
  // Throws Error if `name` was already expected (a bug in the caller, not in the file).
  ExpectedTensors& expect_tensor(std::string name, SafetensorsDType dtype, Shape shape);
  size_t size() const { return expected_.size(); }

  // Every problem, in name order; empty when the file matches.
  std::vector<std::string> problems(const SafetensorsFile& file, bool allow_unexpected = false) const;
  // Throws FormatError naming the file and every problem.
  void check(const SafetensorsFile& file, bool allow_unexpected = false) const;

 private:
  struct Expected {
    SafetensorsDType dtype;
    Shape shape;
  };
  std::map<std::string, Expected, std::less<>> expected_;
};

}  // namespace tessera
