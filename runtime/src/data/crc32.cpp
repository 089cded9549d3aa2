#include "tessera/crc32.hpp"

#include <array>

namespace tessera {
namespace {

// One table lookup per byte instead of eight shifts: a 26 MB checkpoint is checked in tens of
// milliseconds rather than a quarter of a second.
constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

}  // namespace

uint32_t crc32(std::span<const std::byte> data, uint32_t crc) {
  crc = ~crc;
  for (std::byte b : data) crc = kTable[(crc ^ static_cast<uint8_t>(b)) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

}  // namespace tessera
