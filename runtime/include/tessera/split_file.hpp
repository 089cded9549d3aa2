// A file stored as parts of at most a given size, for transfers that cap the size of each file
// (a GPU machine's output folder returns files of at most 16 MiB: docs/gpu.md). Every model and
// checkpoint reader (SafetensorsFile::load, the C API) reads a split file as if it were whole.
//
// FILE split in three is four files beside each other:
//   FILE.parts                  the manifest, JSON:
//                               {"format": "tessera.split", "version": 1, "bytes": TOTAL,
//                                "parts": [{"name": "FILE.part-000-of-003", "bytes": N,
//                                           "crc32": "8 hex digits"}, ...]}
//   FILE.part-000-of-003 ...    FILE's bytes in order: `cat FILE.part-*-of-003 > FILE` also joins them
//
// Reading checks every part before FILE's bytes are used: each listed part must exist, hold
// exactly the bytes the manifest gives and match its CRC-32, and no other part of FILE may lie
// beside them (a part left by another split). Each problem is an Error naming the manifest and
// the part. What the parts hold is then checked like a whole file (SafetensorsFile).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace tessera {

inline constexpr uint64_t kDefaultSplitPartBytes = 16ull << 20;  // 16 MiB
inline constexpr int kMaxSplitParts = 999;                       // the 3-digit part numbers
inline constexpr const char* kSplitManifestSuffix = ".parts";

// FILE.parts.
std::filesystem::path split_manifest_path(const std::filesystem::path& file);
// FILE for a path naming FILE or its manifest FILE.parts.
std::filesystem::path split_file_target(const std::filesystem::path& path);
// "NAME.part-III-of-NNN", `index` counted from 0.
std::string split_part_name(const std::string& file_name, int index, int count);

// Writes `bytes` as FILE's parts of at most `max_part_bytes` each, then the manifest. An earlier
// split of FILE in that folder (its manifest, then every FILE.part-*) is removed first; each file
// is then written atomically (tessera/atomic_file.hpp), the manifest last. So a split that throws
// removes the parts it wrote and leaves nothing of FILE's parts, and one killed part-way leaves
// parts without a manifest, which readers refuse by name. FILE itself is neither read nor
// touched: a reader prefers it to the parts, so remove it if the parts are to be read.
// Throws Error when `max_part_bytes` is 0 or the file would need more than kMaxSplitParts parts.
// Returns the paths written, parts first, the manifest last.
std::vector<std::filesystem::path> write_split_file(const std::filesystem::path& file, std::span<const std::byte> bytes,
                                                    uint64_t max_part_bytes = kDefaultSplitPartBytes);

// FILE's bytes, joined from FILE.parts and its parts (checked as above). Throws Error.
std::vector<std::byte> read_split_file(const std::filesystem::path& file);

// What every model reader reads: FILE itself when it exists, else FILE's parts when FILE.parts
// exists. A path that ends in ".parts" names a manifest: its parts are read. When neither FILE
// nor its manifest exists, the error says so, and names any parts of FILE that lie there.
std::vector<std::byte> read_file_or_parts(const std::filesystem::path& path);

// The size FILE has, whole or split (from its manifest's total; the parts are not read).
uint64_t file_or_parts_size(const std::filesystem::path& path);

}  // namespace tessera
