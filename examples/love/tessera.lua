-- tessera.lua: the part of the Tessera C API (plugin/include/tessera.h, version 1.3) this game
-- uses, through LuaJIT's FFI. No compiled glue: ffi.cdef repeats the header's declarations and
-- ffi.load opens libtessera.so. Every call that can fail goes through check(), which raises a
-- Lua error carrying tsr_get_last_error(), so a failure names what was wrong.
--
-- The structs are declared exactly as in tessera.h (the game's --print-struct-sizes lets the test
-- compare their sizes with the C compiler's). The Vulkan handles of tsr_vulkan_device are declared
-- as void*: this game lets Tessera create its own device, and on 64-bit platforms every Vulkan
-- handle is a pointer, so the layout is the same.
local ffi = require("ffi")

ffi.cdef [[
typedef enum tsr_result {
  TSR_SUCCESS = 0, TSR_NOT_READY = 1, TSR_RESULT_MAX_ENUM = 0x7fffffff
} tsr_result;
typedef struct tsr_context { uint64_t id; } tsr_context;
typedef struct tsr_model { uint64_t id; } tsr_model;
typedef struct tsr_job { uint64_t id; } tsr_job;
typedef void (*tsr_log_fn)(void* user_data, int level, const char* message);
typedef void (*tsr_queue_lock_fn)(void* user_data);
typedef struct tsr_vulkan_device {
  void* instance; void* physical_device; void* device;
  uint32_t queue_family_index; uint32_t queue_index; uint32_t features;
  tsr_queue_lock_fn lock_queue; tsr_queue_lock_fn unlock_queue; void* queue_lock_user_data;
  const uint32_t* result_queue_families; uint32_t result_queue_family_count;
} tsr_vulkan_device;
typedef struct tsr_context_desc {
  uint32_t struct_size; uint32_t flags; tsr_vulkan_device vulkan;
  const char* device; const char* pipeline_cache_dir; tsr_log_fn log; void* log_user_data;
  uint32_t arithmetic;
} tsr_context_desc;
typedef enum tsr_map {
  TSR_MAP_ALBEDO = 0, TSR_MAP_HEIGHT = 1, TSR_MAP_ROUGHNESS = 2, TSR_MAP_NORMAL = 3,
  TSR_MAP_MAX_ENUM = 0x7fffffff
} tsr_map;
typedef struct tsr_model_desc {
  uint32_t struct_size; const char* path; const void* data; size_t data_size;
} tsr_model_desc;
typedef struct tsr_model_info {
  uint32_t struct_size; uint32_t class_count; uint32_t train_resolution; uint32_t size_multiple;
  uint64_t parameter_count; uint32_t map_mask;
} tsr_model_info;
typedef struct tsr_generate_desc {
  uint32_t struct_size; tsr_model model; const char* class_name; uint32_t class_index;
  uint64_t seed; uint32_t width, height; int sampler; uint32_t steps; float guidance; float eta;
  const uint8_t* init_rgba; uint32_t init_row_pitch; float strength;
  const uint8_t* mask; uint32_t mask_row_pitch; size_t init_rgba_size; size_t mask_size;
  float max_step_gflop; float normal_strength; uint32_t normal_flags;
} tsr_generate_desc;
typedef struct tsr_tick_stats {
  uint32_t struct_size; uint32_t steps_run; uint32_t jobs_finished; uint32_t jobs_pending;
  double gpu_ms; double max_step_ms; uint32_t steps_submitted; uint32_t busy;
} tsr_tick_stats;
typedef enum tsr_job_status {
  TSR_JOB_QUEUED = 0, TSR_JOB_RUNNING = 1, TSR_JOB_DONE = 2, TSR_JOB_FAILED = 3,
  TSR_JOB_CANCELLED = 4, TSR_JOB_STATUS_MAX_ENUM = 0x7fffffff
} tsr_job_status;

uint32_t tsr_get_version(void);
const char* tsr_get_last_error(void);
const char* tsr_result_name(tsr_result result);
tsr_result tsr_context_create(const tsr_context_desc* desc, tsr_context* out_context);
tsr_result tsr_context_destroy(tsr_context context);
tsr_result tsr_context_get_device_name(tsr_context context, char* out_name, size_t capacity);
tsr_result tsr_model_load(tsr_context context, const tsr_model_desc* desc, tsr_model* out_model);
tsr_result tsr_model_destroy(tsr_model model);
tsr_result tsr_model_get_info(tsr_model model, tsr_model_info* out_info);
tsr_result tsr_model_get_class_name(tsr_model model, uint32_t index, char* out_name, size_t capacity);
tsr_result tsr_generate_submit(tsr_context context, const tsr_generate_desc* desc, tsr_job* out_job);
tsr_result tsr_tick_async(tsr_context context, double budget_ms, tsr_tick_stats* out_stats);
tsr_result tsr_job_prepare(tsr_job job);
tsr_result tsr_job_get_status(tsr_job job, tsr_job_status* out_status);
tsr_result tsr_job_get_progress(tsr_job job, uint32_t* out_steps_done, uint32_t* out_steps_total);
tsr_result tsr_job_cancel(tsr_job job);
tsr_result tsr_job_destroy(tsr_job job);
tsr_result tsr_job_read_map(tsr_job job, tsr_map map, void* out_pixels, size_t capacity, uint32_t row_pitch);
]]

local M = {
  VERSION_MAJOR = 1, -- the major version these declarations follow
  MAP_ALBEDO = 0, MAP_HEIGHT = 1, MAP_ROUGHNESS = 2, MAP_NORMAL = 3,
  JOB_QUEUED = 0, JOB_RUNNING = 1, JOB_DONE = 2, JOB_FAILED = 3, JOB_CANCELLED = 4,
  NORMAL_DIRECTX = 1,
}

local lib

-- Opens libtessera.so: `path` when given, else the system's search (LD_LIBRARY_PATH).
-- Refuses a library of another major version, whose structs may differ.
function M.open(path)
  local ok, result = pcall(ffi.load, path or "tessera")
  if not ok then
    error(("cannot load libtessera (%s): %s; give --lib PATH or TESSERA_LIB"):format(path or "tessera", result), 0)
  end
  lib = result
  local major = bit.rshift(lib.tsr_get_version(), 22)
  if major ~= M.VERSION_MAJOR then
    error(("%s has C API major version %d, this binding needs %d"):format(path or "libtessera", major,
      M.VERSION_MAJOR), 0)
  end
  M.lib = lib
  return lib
end

-- Handles are returned as their own cdata (ffi.new of the handle type), never as a reference
-- into the out-parameter array: a reference does not keep that array alive.
local function check(result, what)
  if result ~= lib.TSR_SUCCESS then
    error(("%s failed: %s: %s"):format(what, ffi.string(lib.tsr_result_name(result)),
      ffi.string(lib.tsr_get_last_error())), 2)
  end
end
M.check = check

-- A zeroed struct with struct_size set: the header's rule for every desc (zero = default).
local function new_desc(ctype)
  local desc = ffi.new(ctype)
  desc.struct_size = ffi.sizeof(ctype)
  return desc
end
M.new_desc = new_desc

-- A context on Tessera's own (headless) Vulkan device. `device` picks it ("1", "llvmpipe"); nil =
-- TESSERA_DEVICE or the best one. Validation follows TESSERA_VALIDATION=1 (messages go to stderr).
function M.create_context(device)
  local desc = new_desc("tsr_context_desc")
  desc.device = device
  local out = ffi.new("tsr_context[1]")
  check(lib.tsr_context_create(desc, out), "tsr_context_create")
  return ffi.new("tsr_context", out[0])
end

function M.device_name(ctx)
  local name = ffi.new("char[256]")
  check(lib.tsr_context_get_device_name(ctx, name, 256), "tsr_context_get_device_name")
  return ffi.string(name)
end

-- Loads a model file; returns the handle, its tsr_model_info and its class names (0-based list).
function M.load_model(ctx, path)
  local desc = new_desc("tsr_model_desc")
  desc.path = path
  local out = ffi.new("tsr_model[1]")
  check(lib.tsr_model_load(ctx, desc, out), "tsr_model_load(" .. path .. ")")
  local info = new_desc("tsr_model_info")
  check(lib.tsr_model_get_info(out[0], info), "tsr_model_get_info")
  local classes, name = {}, ffi.new("char[256]")
  for i = 0, info.class_count - 1 do
    check(lib.tsr_model_get_class_name(out[0], i, name, 256), "tsr_model_get_class_name")
    classes[i] = ffi.string(name)
  end
  return ffi.new("tsr_model", out[0]), info, classes
end

-- Queues one generation; `fields` sets tsr_generate_desc fields by their C names.
function M.submit(ctx, fields)
  local desc = new_desc("tsr_generate_desc")
  for k, v in pairs(fields) do desc[k] = v end
  local out = ffi.new("tsr_job[1]")
  check(lib.tsr_generate_submit(ctx, desc, out), "tsr_generate_submit")
  return ffi.new("tsr_job", out[0])
end

local status_out = ffi.new("tsr_job_status[1]")
function M.job_status(job)
  check(lib.tsr_job_get_status(job, status_out), "tsr_job_get_status")
  return tonumber(status_out[0])
end

local done_out, total_out = ffi.new("uint32_t[1]"), ffi.new("uint32_t[1]")
function M.job_progress(job)
  check(lib.tsr_job_get_progress(job, done_out, total_out), "tsr_job_get_progress")
  return done_out[0], total_out[0]
end

-- The error a failed job reports: tsr_job_read_map on it fails with the job's message.
function M.job_error(job)
  local r = lib.tsr_job_read_map(job, M.MAP_ALBEDO, nil, 0, 0)
  return ffi.string(lib.tsr_result_name(r)) .. ": " .. ffi.string(lib.tsr_get_last_error())
end

-- Reads one map of a finished job into `pointer` (RGBA8, width * height * 4 bytes, tight rows).
function M.read_map(job, map, pointer, width, height)
  check(lib.tsr_job_read_map(job, map, pointer, width * height * 4, width * 4), "tsr_job_read_map")
end

local stats = new_desc("tsr_tick_stats")
-- One non-blocking tick within budget_ms of GPU time; returns the (reused) tsr_tick_stats.
function M.tick_async(ctx, budget_ms)
  check(lib.tsr_tick_async(ctx, budget_ms, stats), "tsr_tick_async")
  return stats
end

function M.prepare_job(job) check(lib.tsr_job_prepare(job), "tsr_job_prepare") end
function M.destroy_job(job) check(lib.tsr_job_destroy(job), "tsr_job_destroy") end
function M.cancel_job(job) check(lib.tsr_job_cancel(job), "tsr_job_cancel") end
function M.destroy_context(ctx) check(lib.tsr_context_destroy(ctx), "tsr_context_destroy") end

-- "name=size ..." of the declared structs, for the test that compares them with tessera.h's.
function M.struct_sizes()
  local parts = {}
  for _, name in ipairs({ "tsr_context_desc", "tsr_vulkan_device", "tsr_model_desc", "tsr_model_info",
    "tsr_generate_desc", "tsr_tick_stats" }) do
    parts[#parts + 1] = ("%s=%d"):format(name:sub(5), ffi.sizeof(name))
  end
  return table.concat(parts, " ")
end

return M
