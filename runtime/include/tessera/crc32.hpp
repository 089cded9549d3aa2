// CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, as in zlib, PNG and `python3 -c
// "import zlib"`), for PNG chunks and the checksums of a split file's parts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace tessera {

// The CRC of `data`, continuing from the CRC `crc` of the bytes before it (0 to start).
uint32_t crc32(std::span<const std::byte> data, uint32_t crc = 0);

}  // namespace tessera
