// The C boundary: every tsr_ function validates its arguments, resolves generation-checked
// handles, takes the context's work or status lock, and converts every exception into a
// tsr_result plus the calling thread's last-error text. Nothing thrown inside gets out.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "handle_pool.hpp"
#include "plugin_context.hpp"
#include "tessera.h"
#include "tessera/quote_name.hpp"
#include "tessera/safetensors.hpp"
#include "tessera/sampler_schedule.hpp"
#include "tessera/split_file.hpp"
#include "tessera/vulkan_error.hpp"

using namespace tessera;
using namespace tessera::plugin;

namespace {

thread_local std::string g_last_error;

using ContextPool = HandlePool<ContextState, HandleType::Context>;
using ModelPool = HandlePool<ModelState, HandleType::Model>;
using JobPool = HandlePool<Job, HandleType::Job>;

ContextPool& contexts() {
  static ContextPool pool;
  return pool;
}
ModelPool& models() {
  static ModelPool pool;
  return pool;
}
JobPool& jobs() {
  static JobPool pool;
  return pool;
}

tsr_result vulkan_code(int r) {
  switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      return TSR_ERROR_OUT_OF_MEMORY;
    case VK_ERROR_DEVICE_LOST:
      return TSR_ERROR_DEVICE_LOST;
    default:
      return TSR_ERROR_VULKAN;
  }
}

// A C enum value as the int a host passed (C enums are ints; any value may arrive, so it is
// never loaded as the enum type: taken by reference and copied as bytes).
template <typename Enum>
int32_t as_int(const Enum& value) {
  int32_t v = 0;
  std::memcpy(&v, &value, sizeof v);
  return v;
}

// The result and message of the exception being handled (call inside a catch block).
std::pair<tsr_result, std::string> current_error() {
  try {
    throw;
  } catch (const ApiError& e) {
    return {e.code(), e.what()};
  } catch (const FormatError& e) {
    return {TSR_ERROR_INVALID_MODEL, e.what()};
  } catch (const OutOfMemoryError& e) {
    return {TSR_ERROR_OUT_OF_MEMORY, e.what()};
  } catch (const UnsupportedError& e) {
    return {TSR_ERROR_UNSUPPORTED, e.what()};
  } catch (const VulkanError& e) {
    return {vulkan_code(e.result()), e.what()};
  } catch (const Error& e) {
    return {TSR_ERROR_INVALID_ARGUMENT, e.what()};
  } catch (const std::bad_alloc&) {
    return {TSR_ERROR_OUT_OF_MEMORY, "out of host memory"};
  } catch (const std::exception& e) {
    return {TSR_ERROR_INTERNAL, std::string("internal error: ") + e.what()};
  } catch (...) {
    return {TSR_ERROR_INTERNAL, "internal error: unknown exception"};
  }
}

// Runs `body` (returning a tsr_result, or nothing for TSR_SUCCESS) and turns whatever it throws
// into a result and the thread's last-error text.
template <class Body>
tsr_result guarded(const char* function, Body&& body) noexcept {
  tsr_result code = TSR_SUCCESS;
  std::string message;
  try {
    g_last_error.clear();
    if constexpr (std::is_void_v<decltype(body())>)
      body();
    else
      code = body();
  } catch (...) {
    try {
      std::tie(code, message) = current_error();
    } catch (...) {  // no memory for the message
      code = TSR_ERROR_OUT_OF_MEMORY;
    }
  }
  if (code < 0 || code == TSR_NOT_READY) {
    try {
      g_last_error = std::string(function) + ": " + message;
    } catch (...) {
      g_last_error.clear();  // no memory for the message; the code still says what happened
    }
  }
  return code;
}

void require(bool ok, tsr_result code, const std::string& message) {
  if (!ok) throw ApiError(code, message);
}

// Copies a host descriptor of any struct_size into the library's version: missing fields stay
// zero (their defaults); a longer (newer) descriptor is accepted when its unknown tail is zero.
// No more than struct_size bytes are read, and struct_size is capped (TSR_MAX_STRUCT_SIZE) so
// that a garbage value is refused instead of sending the tail check through foreign memory.
template <class Desc>
Desc read_desc(const Desc* desc, const char* type) {
  static_assert(sizeof(Desc) <= TSR_MAX_STRUCT_SIZE);
  require(desc != nullptr, TSR_ERROR_INVALID_ARGUMENT, std::string("the ") + type + " pointer is NULL");
  require(desc->struct_size != 0, TSR_ERROR_INVALID_ARGUMENT,
          std::string(type) + ".struct_size is 0; set it to sizeof(" + type + ")");
  require(desc->struct_size <= TSR_MAX_STRUCT_SIZE, TSR_ERROR_INVALID_ARGUMENT,
          std::string(type) + ".struct_size " + std::to_string(desc->struct_size) + " exceeds TSR_MAX_STRUCT_SIZE (" +
              std::to_string(TSR_MAX_STRUCT_SIZE) + "); set it to sizeof(" + type +
              ") = " + std::to_string(sizeof(Desc)) + " in this library's tessera.h");
  Desc out;
  std::memset(&out, 0, sizeof out);
  std::memcpy(&out, desc, std::min<size_t>(desc->struct_size, sizeof out));
  if (desc->struct_size > sizeof out) {
    const auto* tail = reinterpret_cast<const unsigned char*>(desc) + sizeof out;
    for (size_t i = 0; i < desc->struct_size - sizeof out; ++i)
      require(tail[i] == 0, TSR_ERROR_UNSUPPORTED,
              std::string(type) + " sets fields this libtessera does not know (it was built against an older " +
                  "tessera.h; struct_size " + std::to_string(desc->struct_size) + " > " + std::to_string(sizeof out) +
                  ")");
  }
  return out;
}

// Writes an output struct up to the caller's struct_size.
template <class Out>
void write_out(Out* dst, const Out& value, const char* type) {
  require(dst->struct_size != 0, TSR_ERROR_INVALID_ARGUMENT,
          std::string(type) + ".struct_size is 0; set it to sizeof(" + type + ") before the call");
  uint32_t size = dst->struct_size;
  std::memcpy(dst, &value, std::min<size_t>(size, sizeof value));
  dst->struct_size = size;
}

// Which of a context's locks a call takes (see ContextState): the work lock, or for queries
// only the status lock.
using ContextLock = std::mutex ContextState::*;
constexpr ContextLock kWork = &ContextState::mutex;
constexpr ContextLock kStatus = &ContextState::status_mutex;

// A looked-up object with its context locked. Member order matters: the object reference is
// dropped before the lock, so a last reference never frees device memory unlocked.
template <class T>
struct Locked {
  std::shared_ptr<ContextState> state;
  std::unique_lock<std::mutex> lock;
  std::shared_ptr<T> object;
  Locked() = default;
  Locked(Locked&&) = default;
  ~Locked() {
    object.reset();
    try {
      if (state && lock.owns_lock() && lock.mutex() == &state->mutex) state->flush_validation_messages();
    } catch (...) {  // no memory to format a log line: the messages stay for the next call
    }
  }
};

// Why `id` is not a live handle of `kind`: another type's handle, or a dead one.
std::string stale(const char* kind, uint64_t id) {
  const char* type = handle_type_name(id);
  if (type && std::strcmp(type, kind) != 0)
    return std::string("invalid ") + kind + " handle: it is a " + type + " handle";
  return std::string("invalid ") + kind + " handle (zero, already destroyed, or its context was destroyed)";
}

// With try_only, a lock held by another thread is not waited for: `lock` is then left unowned.
void lock_context(const std::shared_ptr<ContextState>& state, std::unique_lock<std::mutex>& lock, const char* kind,
                  uint64_t id, ContextLock which, bool try_only = false) {
  lock = try_only ? std::unique_lock<std::mutex>((*state).*which, std::try_to_lock)
                  : std::unique_lock<std::mutex>((*state).*which);
  if (!lock.owns_lock()) return;
  require(!state->destroyed, TSR_ERROR_INVALID_HANDLE, stale(kind, id));
}

Locked<ContextState> find_context(tsr_context c, ContextLock which = kWork, bool try_only = false) {
  Locked<ContextState> l;
  l.state = contexts().find(c.id);
  require(l.state != nullptr, TSR_ERROR_INVALID_HANDLE, stale("context", c.id));
  lock_context(l.state, l.lock, "context", c.id, which, try_only);
  return l;
}

template <class Pool>
auto find_owned(Pool& pool, uint64_t id, const char* kind, ContextLock which = kWork) {
  using T = typename decltype(pool.find(id))::element_type;
  Locked<T> l;
  std::shared_ptr<T> object = pool.find(id);
  require(object != nullptr, TSR_ERROR_INVALID_HANDLE, stale(kind, id));
  l.state = object->owner.lock();
  require(l.state != nullptr, TSR_ERROR_INVALID_HANDLE, stale(kind, id));
  lock_context(l.state, l.lock, kind, id, which);
  // Destroyed by another thread between the lookup and the lock?
  require(pool.find(id) == object, TSR_ERROR_INVALID_HANDLE, stale(kind, id));
  l.object = std::move(object);
  return l;
}

void copy_name(const std::string& name, char* out, size_t capacity) {
  require(out != nullptr && capacity > 0, TSR_ERROR_INVALID_ARGUMENT, "out_name is NULL or capacity is 0");
  size_t n = std::min(name.size(), capacity - 1);
  std::memcpy(out, name.data(), n);
  out[n] = '\0';
}

// The file layer's error (missing, a directory, unreadable) is an I/O error here.
std::vector<std::byte> read_model_file(const char* path) {
  // No file path is longer (PATH_MAX); a longer one would be echoed whole in the message.
  constexpr size_t kMaxPath = 4096;
  const size_t length = strnlen(path, kMaxPath + 1);
  require(length <= kMaxPath, TSR_ERROR_IO,
          "tsr_model_desc.path " + quote_name(std::string_view(path, length)) + " is longer than any file path");
  try {
    return read_file_or_parts(path);  // a split model too (tessera/split_file.hpp)
  } catch (const Error& e) {
    throw ApiError(TSR_ERROR_IO, e.what());
  }
}

// The runtime's class lookup (resolve_class), its refusal as TSR_ERROR_UNKNOWN_CLASS.
template <class NameOrIndex>
uint32_t find_class(const ModelInfo& info, NameOrIndex key) try {
  return resolve_class(info, key);
} catch (const Error& e) {
  throw ApiError(TSR_ERROR_UNKNOWN_CLASS, e.what());
}

static_assert(TSR_MAX_IMAGE_SIZE == kMaxSampleSize && TSR_MAX_STEPS == kMaxSamplerSteps &&
                  TSR_MAX_GUIDANCE == kMaxGuidance && TSR_MAX_NORMAL_STRENGTH == kMaxNormalStrength,
              "tessera.h states the runtime's rules");

// Whether a host's desc of its struct_size includes the field ending at byte `end` (a field
// appended in a later version than the host's header is absent).
bool covers(uint32_t struct_size, size_t end) { return struct_size >= end; }

// A host image buffer of `rows` rows of `row` bytes, `pitch` bytes apart: the pitch, and the
// buffer's size where the host's desc has the size field (has_size).
void check_host_image(const char* pointer, const char* pitch_field, size_t pitch, size_t row, int rows, bool has_size,
                      size_t size) {
  require(pitch >= row, TSR_ERROR_INVALID_ARGUMENT,
          std::string(pitch_field) + " " + std::to_string(pitch) + " is less than a row's " + std::to_string(row) +
              " bytes");
  if (!has_size) return;  // an older host: its buffer is trusted to hold the image, as before
  const size_t needed = pitch * size_t(rows - 1) + row;
  const std::string image = std::string(pointer) + " needs " + std::to_string(needed) + " bytes (" +
                            std::to_string(rows) + " rows " + std::to_string(pitch) + " bytes apart)";
  require(size != 0, TSR_ERROR_INVALID_ARGUMENT, std::string(pointer) + "_size is 0; set it to the bytes " + image);
  require(size >= needed, TSR_ERROR_BUFFER_TOO_SMALL,
          std::string(pointer) + "_size is " + std::to_string(size) + ", but " + image);
}

// max_step_gflop as FLOPs: its default for the device's type, and no limit for a host whose
// desc predates it.
double max_step_flops(const tsr_generate_desc& d, VkPhysicalDeviceType device_type) {
  if (!covers(d.struct_size, offsetof(tsr_generate_desc, max_step_gflop) + sizeof d.max_step_gflop)) return INFINITY;
  require(d.max_step_gflop >= 0 && !std::isnan(d.max_step_gflop), TSR_ERROR_INVALID_ARGUMENT,
          "max_step_gflop " + std::to_string(d.max_step_gflop) + " is negative or NaN");
  const double default_gflop =
      device_type == VK_PHYSICAL_DEVICE_TYPE_CPU ? TSR_DEFAULT_MAX_STEP_GFLOP_CPU : TSR_DEFAULT_MAX_STEP_GFLOP_GPU;
  return 1e9 * (d.max_step_gflop == 0 ? default_gflop : d.max_step_gflop);
}

// The desc in the runtime's request: 0 fields take the runtime's defaults, and
// GenerationRequest::validate is the check of every value. What is checked here is the desc's
// own form: the sampler enum, the size before it narrows to int, and the host's buffers.
GenerationRequest make_request(const ModelInfo& info, const tsr_generate_desc& d) {
  GenerationRequest r;
  r.label = d.class_name ? find_class(info, std::string_view(d.class_name)) : find_class(info, d.class_index);
  r.seed = d.seed;
  const uint32_t width = d.width ? d.width : uint32_t(info.config.train_resolution);
  const uint32_t height = d.height ? d.height : uint32_t(info.config.train_resolution);
  try {
    check_sample_size(info.config, width, height);
  } catch (const ShapeError& e) {
    throw ApiError(TSR_ERROR_INVALID_SIZE, e.what());
  }
  r.width = int(width);
  r.height = int(height);
  SamplerOptions& o = r.options;
  const int32_t sampler = as_int(d.sampler);
  constexpr SamplerKind kKinds[] = {SamplerKind::DpmSolver2M, SamplerKind::DpmSolver2M, SamplerKind::Ddim,
                                    SamplerKind::Ddpm};  // by tsr_sampler, TSR_SAMPLER_DEFAULT first
  require(sampler >= 0 && sampler <= TSR_SAMPLER_DDPM, TSR_ERROR_INVALID_ARGUMENT,
          "sampler " + std::to_string(sampler) + " is not a tsr_sampler (DPMPP_2M, DDIM or DDPM)");
  o.kind = kKinds[sampler];
  if (d.steps) o.steps = int(std::min<uint32_t>(d.steps, INT_MAX));
  if (d.guidance != 0.0f) o.guidance = d.guidance;
  o.eta = d.eta;
  require(d.init_rgba != nullptr || (d.mask == nullptr && d.strength == 0.0f), TSR_ERROR_INVALID_ARGUMENT,
          d.mask ? "mask needs init_rgba (the image whose pixels are kept)" : "strength needs init_rgba (img2img)");
  const bool has_sizes = covers(d.struct_size, offsetof(tsr_generate_desc, mask_size) + sizeof d.mask_size);
  require(d.init_rgba || !d.init_rgba_size, TSR_ERROR_INVALID_ARGUMENT, "init_rgba_size is set but init_rgba is NULL");
  require(d.mask || !d.mask_size, TSR_ERROR_INVALID_ARGUMENT, "mask_size is set but mask is NULL");
  if (d.init_rgba) {
    const size_t row = size_t(r.width) * 4, pitch = d.init_row_pitch ? d.init_row_pitch : row;
    check_host_image("init_rgba", "init_row_pitch", pitch, row, r.height, has_sizes, d.init_rgba_size);
    r.image = rgba8_to_planes(d.init_rgba, r.width, r.height, pitch);
    if (d.mask) {
      require(d.strength == 0.0f, TSR_ERROR_INVALID_ARGUMENT,
              "strength applies to img2img; inpainting (mask) regenerates the image from noise");
      const size_t mpitch = d.mask_row_pitch ? d.mask_row_pitch : size_t(r.width);
      check_host_image("mask", "mask_row_pitch", mpitch, size_t(r.width), r.height, has_sizes, d.mask_size);
      o.mask = true;
      r.keep.resize(size_t(r.width) * r.height);
      for (int y = 0; y < r.height; ++y)
        for (int x = 0; x < r.width; ++x) r.keep[size_t(y) * r.width + x] = 1.0f - d.mask[y * mpitch + x] / 255.0f;
    } else {
      o.init_image = true;
      o.strength = d.strength;  // 0 is a real value: nothing is re-run
    }
  }
  if (covers(d.struct_size, offsetof(tsr_generate_desc, normal_flags) + sizeof d.normal_flags)) {
    require((d.normal_flags & ~uint32_t(TSR_NORMAL_DIRECTX)) == 0, TSR_ERROR_INVALID_ARGUMENT,
            "normal_flags " + std::to_string(d.normal_flags) + " has bits other than TSR_NORMAL_DIRECTX");
    if (d.normal_strength != 0.0f) r.normals.strength = d.normal_strength;
    if (d.normal_flags & TSR_NORMAL_DIRECTX) r.normals.convention = ops::NormalConvention::DirectX;
  }
  r.validate(info);  // its size rule passed above: any refusal here is TSR_ERROR_INVALID_ARGUMENT
  return r;
}

// tsr_tick (wait) and tsr_tick_async, which returns busy instead of waiting for a context
// another thread is using. The arguments are checked before any work.
void tick(tsr_context context, double budget_ms, tsr_tick_stats* out_stats, bool wait) {
  require(std::isfinite(budget_ms) && budget_ms > 0, TSR_ERROR_INVALID_ARGUMENT,
          "budget_ms must be a positive number of milliseconds");
  if (out_stats)
    require(out_stats->struct_size != 0, TSR_ERROR_INVALID_ARGUMENT,
            "tsr_tick_stats.struct_size is 0; set it to sizeof(tsr_tick_stats)");
  auto l = find_context(context, kWork, /*try_only=*/!wait);
  tsr_tick_stats stats{};
  stats.struct_size = sizeof stats;
  stats.busy = 1;
  if (l.lock.owns_lock()) stats = l.state->tick(budget_ms, wait);
  if (out_stats) write_out(out_stats, stats, "tsr_tick_stats");
}

// Why `dir` cannot hold the pipeline cache ("" when it can): created if missing, then probed
// with a file, since permission bits do not tell (read-only mounts, ACLs, root).
std::string unwritable(const std::filesystem::path& dir) {
  const std::string shown = "'" + dir.string().substr(0, 256) + "'";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return shown + " cannot be created: " + ec.message();
  if (!std::filesystem::is_directory(dir, ec)) return shown + " is not a folder";
  const std::filesystem::path probe = dir / (".tessera-write-probe-" + std::to_string(::getpid()));
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) return shown + " is not writable: " + std::strerror(errno);
  std::fclose(f);
  std::filesystem::remove(probe, ec);
  return "";
}

// The layouts a copy target may be in, each with the usage it needs (any of the bits; 0 = none).
struct TargetLayout {
  VkImageLayout layout;
  VkImageUsageFlags usage;
  const char* name;
};
constexpr TargetLayout kTargetLayouts[] = {
    {VK_IMAGE_LAYOUT_UNDEFINED, 0, "UNDEFINED"},
    {VK_IMAGE_LAYOUT_GENERAL, 0, "GENERAL"},
    {VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_IMAGE_USAGE_TRANSFER_SRC_BIT, "TRANSFER_SRC_OPTIMAL"},
    {VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_USAGE_TRANSFER_DST_BIT, "TRANSFER_DST_OPTIMAL"},
    {VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL, VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_INPUT_ATTACHMENT_BIT,
     "SHADER_READ_ONLY_OPTIMAL"},
    {VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL, VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT, "COLOR_ATTACHMENT_OPTIMAL"},
    {VK_IMAGE_LAYOUT_PRESENT_SRC_KHR, 0, "PRESENT_SRC_KHR"},
};

const TargetLayout& target_layout(VkImageLayout layout, const char* field, bool undefined_allowed) {
  for (const TargetLayout& t : kTargetLayouts)
    if (t.layout == layout && (undefined_allowed || layout != VK_IMAGE_LAYOUT_UNDEFINED)) return t;
  int32_t value = 0;  // any int a C host passes
  std::memcpy(&value, &layout, sizeof value);
  throw ApiError(TSR_ERROR_INVALID_ARGUMENT,
                 std::string("tsr_vk_image_copy_desc.") + field + " " + std::to_string(value) +
                     " is not a layout Tessera can copy into (GENERAL, TRANSFER_SRC/DST_OPTIMAL, "
                     "SHADER_READ_ONLY_OPTIMAL, COLOR_ATTACHMENT_OPTIMAL, PRESENT_SRC_KHR)");
}

// The copy desc's own fields, and the image it describes (where the host's desc has them).
void check_copy_desc(const tsr_vk_image_copy_desc& d) {
  const VkImageLayout final_layout =
      d.new_layout == VK_IMAGE_LAYOUT_UNDEFINED ? VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL : d.new_layout;
  require(d.image != VK_NULL_HANDLE, TSR_ERROR_INVALID_ARGUMENT, "tsr_vk_image_copy_desc.image is VK_NULL_HANDLE");
  require(d.format == VK_FORMAT_R8G8B8A8_UNORM || d.format == VK_FORMAT_R8G8B8A8_SRGB ||
              d.format == VK_FORMAT_R8G8B8A8_UINT,
          TSR_ERROR_UNSUPPORTED,
          "tsr_vk_image_copy_desc.format " + std::to_string(int(d.format)) +
              " is not an R8G8B8A8 format (UNORM, SRGB or UINT)");
  require(d.x >= 0 && d.y >= 0, TSR_ERROR_INVALID_ARGUMENT, "tsr_vk_image_copy_desc: negative x or y");
  const TargetLayout& before = target_layout(d.old_layout, "old_layout", true);
  const TargetLayout& after = target_layout(final_layout, "new_layout", false);
  if (!covers(d.struct_size, offsetof(tsr_vk_image_copy_desc, usage) + sizeof d.usage))
    return;  // an older host describes no image: it is trusted to give a fitting one, as before
  require(d.width > 0 && d.height > 0, TSR_ERROR_INVALID_ARGUMENT,
          "tsr_vk_image_copy_desc.width and height are 0; set them to the image's extent");
  const uint32_t mips = d.mip_levels ? d.mip_levels : 1, layers = d.array_layers ? d.array_layers : 1;
  require(d.mip_level < mips, TSR_ERROR_INVALID_ARGUMENT,
          "tsr_vk_image_copy_desc.mip_level " + std::to_string(d.mip_level) + " does not exist (the image has " +
              std::to_string(mips) + " mip levels)");
  require(d.array_layer < layers, TSR_ERROR_INVALID_ARGUMENT,
          "tsr_vk_image_copy_desc.array_layer " + std::to_string(d.array_layer) + " does not exist (the image has " +
              std::to_string(layers) + " layers)");
  require(d.usage & VK_IMAGE_USAGE_TRANSFER_DST_BIT, TSR_ERROR_INVALID_ARGUMENT,
          "tsr_vk_image_copy_desc.usage lacks VK_IMAGE_USAGE_TRANSFER_DST_BIT (the copy writes the image)");
  for (const TargetLayout* t : {&before, &after})
    require(!t->usage || (d.usage & t->usage), TSR_ERROR_INVALID_ARGUMENT,
            std::string("tsr_vk_image_copy_desc: layout ") + t->name + " needs usage " +
                (t->usage & VK_IMAGE_USAGE_SAMPLED_BIT         ? "SAMPLED (or INPUT_ATTACHMENT)"
                 : t->usage == VK_IMAGE_USAGE_TRANSFER_SRC_BIT ? "TRANSFER_SRC"
                                                               : "COLOR_ATTACHMENT") +
                ", which tsr_vk_image_copy_desc.usage lacks" +
                (t == &after && d.new_layout == VK_IMAGE_LAYOUT_UNDEFINED ? " (new_layout 0 means this layout)" : ""));
}

// The job's width x height at (x, y) inside the target's mip level.
void check_copy_fits(const tsr_vk_image_copy_desc& d, uint32_t width, uint32_t height) {
  if (!covers(d.struct_size, offsetof(tsr_vk_image_copy_desc, usage) + sizeof d.usage)) return;
  auto level = [&](uint32_t extent) { return std::max<uint64_t>(1, d.mip_level < 32 ? extent >> d.mip_level : 0); };
  const uint64_t level_w = level(d.width), level_h = level(d.height);
  require(uint64_t(d.x) + width <= level_w && uint64_t(d.y) + height <= level_h, TSR_ERROR_INVALID_ARGUMENT,
          "tsr_vk_image_copy_desc: the " + std::to_string(width) + "x" + std::to_string(height) + " result at (" +
              std::to_string(d.x) + ", " + std::to_string(d.y) + ") does not fit in mip level " +
              std::to_string(d.mip_level) + " of the image (" + std::to_string(level_w) + "x" +
              std::to_string(level_h) + ")");
}

tsr_result result_of_finished(const Job& job) {
  switch (job.status) {
    case TSR_JOB_DONE:
      return TSR_SUCCESS;
    case TSR_JOB_QUEUED:
    case TSR_JOB_RUNNING:
      throw ApiError(TSR_NOT_READY, "the job is not finished (tick the context)");
    case TSR_JOB_CANCELLED:
      throw ApiError(TSR_ERROR_JOB_CANCELLED, "the job was cancelled; it has no result");
    default:
      throw ApiError(TSR_ERROR_JOB_FAILED, "the job failed: " + job.failure);
  }
}

void copy_pixels(const std::vector<uint8_t>& pixels, int width, int height, void* out, size_t capacity,
                 uint32_t row_pitch) {
  require(out != nullptr, TSR_ERROR_INVALID_ARGUMENT, "out_pixels is NULL");
  const size_t row = size_t(width) * 4, pitch = row_pitch ? row_pitch : row;
  require(pitch >= row, TSR_ERROR_INVALID_ARGUMENT,
          "row_pitch " + std::to_string(pitch) + " is less than width*4 = " + std::to_string(row));
  const size_t needed = pitch * (height - 1) + row;
  require(capacity >= needed, TSR_ERROR_BUFFER_TOO_SMALL,
          "the buffer holds " + std::to_string(capacity) + " bytes; a " + std::to_string(width) + "x" +
              std::to_string(height) + " RGBA8 image needs " + std::to_string(needed));
  for (int y = 0; y < height; ++y) std::memcpy(static_cast<uint8_t*>(out) + y * pitch, pixels.data() + y * row, row);
}

}  // namespace

extern "C" {

TSR_API uint32_t tsr_get_version(void) { return TSR_VERSION; }

TSR_API const char* tsr_get_last_error(void) { return g_last_error.c_str(); }

TSR_API const char* tsr_result_name(tsr_result result) {
  int32_t r = 0;  // any int a C host passes
  std::memcpy(&r, &result, sizeof r);
  switch (r) {
#define TSR_NAME(x) \
  case x:           \
    return #x;
    TSR_NAME(TSR_SUCCESS)
    TSR_NAME(TSR_NOT_READY)
    TSR_NAME(TSR_ERROR_INVALID_ARGUMENT)
    TSR_NAME(TSR_ERROR_INVALID_HANDLE)
    TSR_NAME(TSR_ERROR_UNKNOWN_CLASS)
    TSR_NAME(TSR_ERROR_INVALID_SIZE)
    TSR_NAME(TSR_ERROR_INVALID_MODEL)
    TSR_NAME(TSR_ERROR_IO)
    TSR_NAME(TSR_ERROR_UNSUPPORTED)
    TSR_NAME(TSR_ERROR_OUT_OF_MEMORY)
    TSR_NAME(TSR_ERROR_BUFFER_TOO_SMALL)
    TSR_NAME(TSR_ERROR_JOB_CANCELLED)
    TSR_NAME(TSR_ERROR_JOB_FAILED)
    TSR_NAME(TSR_ERROR_VULKAN)
    TSR_NAME(TSR_ERROR_DEVICE_LOST)
    TSR_NAME(TSR_ERROR_INTERNAL)
#undef TSR_NAME
  }
  return "unknown tsr_result";
}

TSR_API tsr_result tsr_context_create(const tsr_context_desc* desc, tsr_context* out_context) {
  return guarded(__func__, [&] {
    require(out_context != nullptr, TSR_ERROR_INVALID_ARGUMENT, "out_context is NULL");
    out_context->id = 0;
    tsr_context_desc d = read_desc(desc, "tsr_context_desc");
    require((d.flags & ~uint32_t(TSR_CONTEXT_VALIDATION)) == 0, TSR_ERROR_UNSUPPORTED,
            "tsr_context_desc.flags has unknown bits " + std::to_string(d.flags));
    const uint32_t known_features =
        TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE | TSR_VULKAN_FEATURE_SHADER_FLOAT16 | TSR_VULKAN_FEATURE_STORAGE_16BIT;
    require((d.vulkan.features & ~known_features) == 0, TSR_ERROR_UNSUPPORTED,
            "tsr_vulkan_device.features has unknown bits " + std::to_string(d.vulkan.features));
    require(d.arithmetic <= TSR_ARITHMETIC_PORTABLE, TSR_ERROR_INVALID_ARGUMENT,
            "tsr_context_desc.arithmetic " + std::to_string(d.arithmetic) +
                " is not a tsr_arithmetic (0 default, 1 fast, 2 portable)");
    ContextOptions options;
    options.validation = d.flags & TSR_CONTEXT_VALIDATION;
    options.portable = d.arithmetic == TSR_ARITHMETIC_PORTABLE;
    if (d.device) options.device_selector = d.device;
    if (d.pipeline_cache_dir) {
      options.pipeline_cache_dir = d.pipeline_cache_dir;
      if (options.pipeline_cache_dir != "none")
        if (std::string why = unwritable(options.pipeline_cache_dir); !why.empty())
          throw ApiError(TSR_ERROR_IO,
                         "tsr_context_desc.pipeline_cache_dir " + why + " (\"none\" turns the pipeline cache off)");
    }
    const tsr_vulkan_device& v = d.vulkan;
    const bool external = v.instance || v.physical_device || v.device;
    std::unique_ptr<Context> ctx;
    if (external) {
      require(!(d.flags & TSR_CONTEXT_VALIDATION), TSR_ERROR_INVALID_ARGUMENT,
              "TSR_CONTEXT_VALIDATION applies to a context's own device; with a host device enable "
              "VK_LAYER_KHRONOS_validation on your VkInstance (it then validates Tessera's calls too)");
      require(v.instance && v.physical_device && v.device, TSR_ERROR_INVALID_ARGUMENT,
              "tsr_vulkan_device needs instance, physical_device and device together (one was VK_NULL_HANDLE)");
      require(!v.lock_queue == !v.unlock_queue, TSR_ERROR_INVALID_ARGUMENT,
              "tsr_vulkan_device: give both lock_queue and unlock_queue, or neither");
      require(v.result_queue_family_count == 0 || v.result_queue_families, TSR_ERROR_INVALID_ARGUMENT,
              "tsr_vulkan_device: result_queue_family_count is set but result_queue_families is NULL");
      uint32_t families = 0;
      vkGetPhysicalDeviceQueueFamilyProperties(v.physical_device, &families, nullptr);
      for (uint32_t i = 0; i < v.result_queue_family_count; ++i)
        require(v.result_queue_families[i] < families, TSR_ERROR_INVALID_ARGUMENT,
                "tsr_vulkan_device.result_queue_families[" + std::to_string(i) +
                    "] = " + std::to_string(v.result_queue_families[i]) + ", but the device has " +
                    std::to_string(families) + " queue families");
      ExternalDevice e;
      e.instance = v.instance;
      e.physical_device = v.physical_device;
      e.device = v.device;
      e.queue_family = v.queue_family_index;
      e.queue_index = v.queue_index;
      e.timeline_semaphore_enabled = v.features & TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE;
      e.shader_float16_enabled = v.features & TSR_VULKAN_FEATURE_SHADER_FLOAT16;
      e.storage_16bit_enabled = v.features & TSR_VULKAN_FEATURE_STORAGE_16BIT;
      if (v.lock_queue) {
        tsr_queue_lock_fn lock = v.lock_queue, unlock = v.unlock_queue;
        void* user = v.queue_lock_user_data;
        e.lock_queue = [lock, user] { lock(user); };
        e.unlock_queue = [unlock, user] { unlock(user); };
      }
      ctx = Context::adopt(e, options);
    } else {
      ctx = Context::create(options);
    }
    auto state = std::make_shared<ContextState>(std::move(ctx), d);
    state->log_message(TSR_LOG_INFO, "device " + state->ctx->info().name + " (" + state->ctx->info().selection_reason +
                                         "), kernel variant " + kernel_variant_name(state->ctx->variant()) +
                                         (state->ctx->portable() ? ", portable arithmetic" : ""));
    const std::string& cache_file = state->ctx->kernels().cache_file();
    if (!d.pipeline_cache_dir && !cache_file.empty())
      if (std::string why = unwritable(std::filesystem::path(cache_file).parent_path()); !why.empty())
        state->log_message(TSR_LOG_WARNING, "the pipeline cache is off: its default folder " + why +
                                                " (set TESSERA_PIPELINE_CACHE or tsr_context_desc.pipeline_cache_dir)");
    out_context->id = contexts().insert(std::move(state));
  });
}

TSR_API tsr_result tsr_context_destroy(tsr_context context) {
  return guarded(__func__, [&] {
    std::shared_ptr<ContextState> state = contexts().release(context.id);
    require(state != nullptr, TSR_ERROR_INVALID_HANDLE, stale("context", context.id));
    std::lock_guard<std::mutex> lock(state->mutex);
    {
      std::lock_guard<std::mutex> published(state->status_mutex);
      state->destroyed = true;
    }
    // Every handle of the context dies with it.
    for (auto& job : state->jobs) jobs().release(job->handle);
    for (auto& model : state->models) models().release(model->handle);
    state->shut_down();
  });
}

TSR_API tsr_result tsr_context_get_device_name(tsr_context context, char* out_name, size_t capacity) {
  return guarded(__func__, [&] {
    auto l = find_context(context, kStatus);
    copy_name(l.state->device_name, out_name, capacity);
  });
}

TSR_API tsr_result tsr_context_get_memory(tsr_context context, tsr_memory_info* out_info) {
  return guarded(__func__, [&] {
    require(out_info != nullptr, TSR_ERROR_INVALID_ARGUMENT, "out_info is NULL");
    auto l = find_context(context);
    tsr_memory_info info{};
    info.struct_size = sizeof info;
    info.device_bytes_in_use = l.state->device_bytes_in_use();
    info.device_local_heap_bytes = l.state->ctx->info().device_local_bytes;
    write_out(out_info, info, "tsr_memory_info");
  });
}

TSR_API tsr_result tsr_model_load(tsr_context context, const tsr_model_desc* desc, tsr_model* out_model) {
  return guarded(__func__, [&] {
    require(out_model != nullptr, TSR_ERROR_INVALID_ARGUMENT, "out_model is NULL");
    out_model->id = 0;
    tsr_model_desc d = read_desc(desc, "tsr_model_desc");
    require((d.path != nullptr) != (d.data != nullptr), TSR_ERROR_INVALID_ARGUMENT,
            "tsr_model_desc: give exactly one of path and data");
    require(!d.data || d.data_size > 0, TSR_ERROR_INVALID_ARGUMENT, "tsr_model_desc: data_size is 0");
    std::vector<std::byte> file;
    std::span<const std::byte> bytes;
    std::string source = d.path ? d.path : "<model in memory>";
    if (d.path) {
      file = read_model_file(d.path);
      bytes = file;
    } else {
      bytes = std::span(static_cast<const std::byte*>(d.data), d.data_size);
    }
    auto l = find_context(context);
    auto model = std::make_shared<ModelState>();
    model->owner = l.state;
    try {
      LoadedModel loaded = load_model(*l.state->ctx, bytes, source);
      model->info = std::move(loaded.info);
      model->params = std::move(loaded.params);
    } catch (const Error& e) {  // anything else the parser objects to is still a bad file
      if (current_error().first != TSR_ERROR_INVALID_ARGUMENT) throw;
      throw ApiError(TSR_ERROR_INVALID_MODEL, e.what());
    }
    l.state->models.push_back(model);
    model->handle = out_model->id = models().insert(model);
  });
}

TSR_API tsr_result tsr_model_destroy(tsr_model model) {
  return guarded(__func__, [&] {
    auto l = find_owned(models(), model.id, "model");
    models().release(model.id);
    std::erase(l.state->models, l.object);
    l.state->free_if_unused(l.object);  // weights still used by a job stay until that job is destroyed
  });
}

TSR_API tsr_result tsr_model_get_info(tsr_model model, tsr_model_info* out_info) {
  return guarded(__func__, [&] {
    require(out_info != nullptr, TSR_ERROR_INVALID_ARGUMENT, "out_info is NULL");
    auto l = find_owned(models(), model.id, "model");
    const UNetConfig& c = l.object->info.config;
    tsr_model_info info{};
    info.struct_size = sizeof info;
    info.class_count = uint32_t(c.num_classes);
    info.train_resolution = uint32_t(c.train_resolution);
    info.size_multiple = uint32_t(c.size_multiple());
    info.parameter_count = l.object->params ? uint64_t(l.object->params->parameter_count()) : 0;
    info.map_mask = map_mask(c.maps);
    write_out(out_info, info, "tsr_model_info");
  });
}

TSR_API tsr_result tsr_model_get_class_name(tsr_model model, uint32_t index, char* out_name, size_t capacity) {
  return guarded(__func__, [&] {
    auto l = find_owned(models(), model.id, "model");
    const auto& classes = l.object->info.classes;
    require(index < classes.size(), TSR_ERROR_UNKNOWN_CLASS,
            "class index " + std::to_string(index) + " out of range (the model has " + std::to_string(classes.size()) +
                " classes)");
    copy_name(classes[index], out_name, capacity);
  });
}

TSR_API tsr_result tsr_model_find_class(tsr_model model, const char* name_or_index, uint32_t* out_index) {
  return guarded(__func__, [&] {
    require(name_or_index != nullptr && out_index != nullptr, TSR_ERROR_INVALID_ARGUMENT,
            "name_or_index or out_index is NULL");
    auto l = find_owned(models(), model.id, "model");
    *out_index = find_class(l.object->info, std::string_view(name_or_index));
    return TSR_SUCCESS;
  });
}

TSR_API tsr_result tsr_generate_submit(tsr_context context, const tsr_generate_desc* desc, tsr_job* out_job) {
  return guarded(__func__, [&] {
    require(out_job != nullptr, TSR_ERROR_INVALID_ARGUMENT, "out_job is NULL");
    out_job->id = 0;
    tsr_generate_desc d = read_desc(desc, "tsr_generate_desc");
    auto l = find_context(context);
    std::shared_ptr<ModelState> model = models().find(d.model.id);
    require(model != nullptr, TSR_ERROR_INVALID_HANDLE, stale("model", d.model.id) + " in tsr_generate_desc.model");
    require(model->owner.lock() == l.state, TSR_ERROR_INVALID_HANDLE,
            "tsr_generate_desc.model belongs to another context");
    auto job = std::make_shared<Job>();
    job->owner = l.state;
    job->request = make_request(model->info, d);
    job->model_maps = model->info.config.maps;
    l.state->check_cost(*model, job->request, max_step_flops(d, l.state->ctx->info().type));
    const SamplerOptions& o = job->request.options;  // (strength is 1 unless img2img: validated)
    job->steps_total = uint32_t(sampler_timesteps(model->info.config.timesteps, o.steps, o.strength).size());
    job->model = std::move(model);
    l.state->jobs.push_back(job);
    job->handle = out_job->id = jobs().insert(job);
    return TSR_SUCCESS;
  });
}

TSR_API tsr_result tsr_tick(tsr_context context, double budget_ms, tsr_tick_stats* out_stats) {
  return guarded(__func__, [&] { tick(context, budget_ms, out_stats, true); });
}

TSR_API tsr_result tsr_tick_async(tsr_context context, double budget_ms, tsr_tick_stats* out_stats) {
  return guarded(__func__, [&] { tick(context, budget_ms, out_stats, false); });
}

TSR_API tsr_result tsr_job_prepare(tsr_job job) {
  return guarded(__func__, [&] {
    auto l = find_owned(jobs(), job.id, "job");
    l.state->prepare(*l.object);
  });
}

TSR_API tsr_result tsr_job_get_status(tsr_job job, tsr_job_status* out_status) {
  return guarded(__func__, [&] {
    require(out_status != nullptr, TSR_ERROR_INVALID_ARGUMENT, "out_status is NULL");
    auto l = find_owned(jobs(), job.id, "job", kStatus);
    *out_status = l.object->status;
  });
}

TSR_API tsr_result tsr_job_get_progress(tsr_job job, uint32_t* out_steps_done, uint32_t* out_steps_total) {
  return guarded(__func__, [&] {
    auto l = find_owned(jobs(), job.id, "job", kStatus);
    if (out_steps_done) *out_steps_done = l.object->steps_done;
    if (out_steps_total) *out_steps_total = l.object->steps_total;
  });
}

TSR_API tsr_result tsr_job_cancel(tsr_job job) {
  return guarded(__func__, [&] {
    auto l = find_owned(jobs(), job.id, "job");
    l.state->cancel(*l.object);
  });
}

TSR_API tsr_result tsr_job_destroy(tsr_job job) {
  return guarded(__func__, [&] {
    auto l = find_owned(jobs(), job.id, "job");
    jobs().release(job.id);
    std::shared_ptr<ModelState> model = l.object->model;
    l.state->release(*l.object);
    l.state->remove(*l.object);
    l.state->free_if_unused(model);  // the job may have held the last use of a destroyed model
  });
}

}  // extern "C"

namespace {

// tsr_job_read_map and tsr_job_read_pixels (albedo), whose messages name `function`.
tsr_result read_map(const char* function, tsr_job job, int32_t map, void* out_pixels, size_t capacity,
                    uint32_t row_pitch) {
  return guarded(function, [&] {
    auto l = find_owned(jobs(), job.id, "job", kStatus);
    const Job& j = *l.object;
    check_map(j.model_maps, map);
    result_of_finished(j);
    copy_pixels(j.maps[map], j.request.width, j.request.height, out_pixels, capacity, row_pitch);
  });
}

// tsr_job_get_map_vk_image and tsr_job_get_vk_image (albedo).
tsr_result map_vk_image(const char* function, tsr_job job, int32_t map, tsr_vk_image* out_image) {
  return guarded(function, [&] {
    require(out_image != nullptr, TSR_ERROR_INVALID_ARGUMENT, "out_image is NULL");
    auto l = find_owned(jobs(), job.id, "job");
    require(!l.state->ctx->owns_device(), TSR_ERROR_UNSUPPORTED,
            "VkImage results need a context on the host's device (tsr_context_desc.vulkan); "
            "this context created its own device: read pixels instead");
    check_map(l.object->model_maps, map);
    result_of_finished(*l.object);
    *out_image = l.state->result_image(*l.object, tsr_map(map));
  });
}

}  // namespace

extern "C" {

TSR_API tsr_result tsr_job_read_map(tsr_job job, tsr_map map, void* out_pixels, size_t capacity, uint32_t row_pitch) {
  return read_map(__func__, job, as_int(map), out_pixels, capacity, row_pitch);
}

TSR_API tsr_result tsr_job_read_pixels(tsr_job job, void* out_pixels, size_t capacity, uint32_t row_pitch) {
  return read_map(__func__, job, TSR_MAP_ALBEDO, out_pixels, capacity, row_pitch);
}

TSR_API tsr_result tsr_job_read_preview(tsr_job job, void* out_pixels, size_t capacity, uint32_t row_pitch) {
  return guarded(__func__, [&] {
    auto l = find_owned(jobs(), job.id, "job");
    Job& j = *l.object;
    if (!j.pending()) result_of_finished(j);
    copy_pixels(l.state->preview(j), j.request.width, j.request.height, out_pixels, capacity, row_pitch);
  });
}

TSR_API tsr_result tsr_job_get_map_vk_image(tsr_job job, tsr_map map, tsr_vk_image* out_image) {
  return map_vk_image(__func__, job, as_int(map), out_image);
}

TSR_API tsr_result tsr_job_get_vk_image(tsr_job job, tsr_vk_image* out_image) {
  return map_vk_image(__func__, job, TSR_MAP_ALBEDO, out_image);
}

TSR_API tsr_result tsr_job_copy_to_vk_image(tsr_job job, const tsr_vk_image_copy_desc* desc, VkSemaphore* out_semaphore,
                                            uint64_t* out_wait_value) {
  return guarded(__func__, [&] {
    tsr_vk_image_copy_desc d = read_desc(desc, "tsr_vk_image_copy_desc");
    auto l = find_owned(jobs(), job.id, "job");
    require(!l.state->ctx->owns_device(), TSR_ERROR_UNSUPPORTED,
            "copies into a host VkImage need a context on the host's device (tsr_context_desc.vulkan)");
    check_copy_desc(d);
    result_of_finished(*l.object);
    check_copy_fits(d, uint32_t(l.object->request.width), uint32_t(l.object->request.height));
    uint64_t value = l.state->copy_to_image(*l.object, d);
    if (out_semaphore) *out_semaphore = value ? l.state->timeline.get() : VK_NULL_HANDLE;
    if (out_wait_value) *out_wait_value = value;
  });
}

}  // extern "C"
