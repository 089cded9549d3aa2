// Hashes of generated images, and the table of them that tests/portable/hashes.txt publishes
// (docs/portable-hashes.md): in portable mode a (model, class, seed, size, sampler, steps,
// guidance) names one image on every conformant Vulkan device, so a device is checked by
// recomputing the table's rows (`tessera hash --table`) and comparing.
//
// Two hashes per image, both FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3):
//   f32   of the result's float bits, little-endian, in [C, H, W] order: any rounding difference
//         anywhere in the generation shows here;
//   pixels of the samples the image's PNGs hold, what a player sees: for a colour-only model
//         planes_to_rgba8's bytes (R, G, B, A per pixel, row-major); for a material model each
//         map's map_file_samples in the model's map order (albedo RGB 8-bit, height 16-bit
//         big-endian, roughness 8-bit; tessera/material_images.hpp). Derived normals are not
//         part of the image.
// FNV-1a is not a cryptographic hash: it detects accidental differences, which is all a device
// check needs, and is ten lines in any language.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/material_maps.hpp"
#include "tessera/sampler.hpp"

namespace tessera {

uint64_t fnv1a64(std::span<const uint8_t> bytes);
uint64_t f32_hash(std::span<const float> values);
std::string hash_hex(uint64_t hash);  // 16 lowercase hex digits

// One row of the table: a generation and the hashes of its image. Text form, whitespace
// separated, one row per line ('#' starts a comment line):
//   model class seed WxH sampler steps guidance f32_hash pixels_hash
//   default.safetensors grass 0 32x32 ddim 3 1 0123456789abcdef fedcba9876543210
// model is a file name in the models folder; class a class name (or index) of that model.
struct HashCase {
  std::string model;
  std::string class_name;
  uint64_t seed = 0;
  int width = 0, height = 0;
  SamplerKind sampler = SamplerKind::DpmSolver2M;
  int steps = 0;
  double guidance = 1.0;
};
struct HashRow {
  HashCase generation;
  uint64_t f32 = 0, pixels = 0;
};

std::string format_hash_row(const HashRow& row);
// Throws Error naming `source`, the line number and the field that is wrong.
HashRow parse_hash_row(std::string_view line, const std::string& source, int line_number);
// Every row of a table file (comments and blank lines skipped); throws Error as parse_hash_row.
std::vector<HashRow> read_hash_table(const std::filesystem::path& path);

// The generation a row names: its sampler, steps, guidance, size, seed and class (resolved by
// resolve_class), every other option at the sampler's default (clip on, eta 0, beta_tilde,
// lower-order final step); validated against the model (GenerationRequest::validate).
GenerationRequest hash_case_request(const HashCase& generation, const ModelInfo& model);
// The row of a generated image [C, H, W] of `generation` from a model whose channels are `maps`
// (UNetConfig::maps); throws Error when the image has another size.
HashRow hash_image(const HashCase& generation, std::span<const float> image, const std::vector<MapKind>& maps);

}  // namespace tessera
