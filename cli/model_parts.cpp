// `tessera model split|join`: a model or checkpoint as parts of at most N bytes each, and back
// (tessera/split_file.hpp). Every reader of models reads the parts as one file, so joining is
// only needed by tools other than Tessera's.
#include <cstdio>
#include <filesystem>

#include "args.hpp"
#include "commands.hpp"
#include "tessera/atomic_file.hpp"
#include "tessera/error.hpp"
#include "tessera/safetensors.hpp"
#include "tessera/split_file.hpp"

namespace tessera::cli {

namespace fs = std::filesystem;

namespace {

const char* kUsage =
    "usage: tessera model split FILE [--part-bytes N] [--out DIR]\n"
    "       tessera model join FILE [--out PATH]\n"
    "split  writes FILE (a model or checkpoint .safetensors, whole or itself split) as parts of at\n"
    "       most N bytes each (default 16777216, 16 MiB): DIR/NAME.part-000-of-NNN ... and the\n"
    "       manifest DIR/NAME.parts (sizes and CRC-32 of the parts), DIR by default FILE's folder.\n"
    "       Each file is written atomically, the manifest last; an earlier split's parts go.\n"
    "join   writes FILE (or PATH) whole from FILE.parts and its parts; FILE may also name the\n"
    "       manifest. Every part is checked: present, of its size, of its CRC-32, none extra.\n"
    "Both check that the bytes are a well-formed safetensors file before writing anything.\n"
    "Every Tessera command and the C API read FILE's parts when FILE itself is absent; when both\n"
    "are there, FILE is read.\n";

void check_safetensors(std::span<const std::byte> bytes, const fs::path& from) {
  (void)SafetensorsFile::parse(bytes, from.string());  // throws FormatError naming every problem
}

}  // namespace

int model_main(const std::vector<std::string>& args) {
  Args a(args, {"part-bytes", "out"}, {"help"}, {"split|join", "FILE"});
  if (a.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (a.positional().size() != 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string& action = a.positional()[0];
  const fs::path file = a.positional()[1];
  if (action == "split") {
    const auto part_bytes =
        static_cast<uint64_t>(a.integer("part-bytes", static_cast<long long>(kDefaultSplitPartBytes), 1, INT64_MAX));
    const fs::path folder = a.has("out") ? fs::path(a.str("out", "")) : file.parent_path();
    if (!folder.empty() && !fs::is_directory(folder))
      throw Error("--out " + shown(folder.string()) + " is not a folder");
    const std::vector<std::byte> bytes = read_file_or_parts(file);
    check_safetensors(bytes, file);
    const fs::path target = folder / file.filename();
    for (const fs::path& p : write_split_file(target, bytes, part_bytes))
      std::printf("%s (%llu bytes)\n", p.string().c_str(), (unsigned long long)fs::file_size(p));
    std::error_code ec;
    if (fs::exists(target, ec))
      std::fprintf(stderr, "note: %s itself is still there, and readers take it before its parts\n",
                   target.string().c_str());
    return 0;
  }
  if (action == "join") {
    if (a.has("part-bytes")) throw Error("--part-bytes is an option of 'tessera model split', not of join");
    const fs::path target = split_file_target(file);
    const std::vector<std::byte> bytes = read_split_file(target);
    const fs::path out = a.has("out") ? fs::path(a.str("out", "")) : target;
    check_safetensors(bytes, split_manifest_path(target));
    write_file_atomically(out, bytes);
    std::printf("%s (%zu bytes)\n", out.string().c_str(), bytes.size());
    return 0;
  }
  std::fputs(kUsage, stderr);
  throw Error("unknown action " + shown(action) + ": tessera model split or tessera model join");
}

}  // namespace tessera::cli
