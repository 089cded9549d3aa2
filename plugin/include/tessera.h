/* tessera.h - the Tessera C API: texture diffusion models inside a realtime host.
 *
 * One header, C99, every name prefixed tsr_. Link libtessera.so. Walkthrough: docs/plugin.md.
 *
 * Shape of the API
 *   - Handles (tsr_context, tsr_model, tsr_job) are small structs holding a 64-bit id made
 *     of a slot index, the handle's type and a generation. A destroyed handle is detected,
 *     never dereferenced: using it returns TSR_ERROR_INVALID_HANDLE. So does a handle of
 *     another type (a job's id passed as a tsr_context). The zero handle is never valid.
 *   - Descriptor structs: zero-initialise, set struct_size = sizeof(the struct), then set only
 *     what you need; every other zero field means "default" (documented per field). The one
 *     exception is tsr_generate_desc.strength, where 0 is a real value (see there).
 *     struct_size lets an older library accept a newer header's struct (the unknown tail must
 *     then be zero) and a newer library accept an older header's shorter struct. The library
 *     reads exactly struct_size bytes of a desc, so struct_size must not exceed the caller's
 *     struct; a struct_size above TSR_MAX_STRUCT_SIZE is refused as garbage.
 *   - Every function returns a tsr_result (or a value that cannot fail). On failure,
 *     tsr_get_last_error() describes what went wrong and with which value. No C++ exception,
 *     abort or assertion crosses this boundary; a failing call leaves nothing half-made.
 *     (Pointers must be NULL or valid: a dangling pointer cannot be detected.)
 *
 * Frame loop
 *   tsr_generate_submit() returns a job at once. Each frame the host calls
 *   tsr_tick(ctx, budget_ms): Tessera runs whole sampler steps of the queued jobs (oldest
 *   first), measuring each step's GPU time with timestamp queries, and starts another step
 *   only while the time used plus the last step's time fits the budget. A tick runs at least
 *   one step, so every job progresses, and overruns the budget by less than one step; it never
 *   runs a whole generation unless the budget allows it. A tick waits for the steps it submits.
 *   A model with height (since 1.3) has one more unit of work after its last step: deriving
 *   the normal map, one short dispatch that the tick budgets like a step (expected to cost at
 *   most a step) but does not count in steps_run or in the job's progress. The job is DONE
 *   after it: its progress reads steps_total / steps_total while that unit is still to run.
 *   tsr_tick_async() (since 1.2) does the same without waiting: it submits the steps that fit
 *   the budget and returns; the next tick collects them. tsr_job_prepare() (since 1.2) builds a
 *   job's sampler ahead of its first tick (e.g. on a loading thread).
 *
 * Thread-safety
 *   - Every function may be called from any thread.
 *   - Queries never wait for other calls: tsr_job_get_status(), tsr_job_get_progress(),
 *     tsr_job_read_pixels(), tsr_job_read_map() (since 1.3) and tsr_context_get_device_name()
 *     take only a short per-context status lock, which Tessera never holds across a GPU wait or the queue lock. They may be
 *     called at any time, also while holding your queue lock and while another thread is
 *     inside tsr_tick() (since 1.2; before, they waited for the running tick).
 *   - Every other call on one context, its models and its jobs is serialised by the context's
 *     work lock: e.g. tsr_job_cancel() waits while tsr_tick() runs that context's steps.
 *     tsr_tick_async() never waits for it: when another thread holds it, the tick does nothing
 *     and says so (tsr_tick_stats.busy). Different contexts never wait for each other.
 *   - The queue lock (tsr_vulkan_device.lock_queue): Tessera calls it with its work lock held
 *     and never takes any lock of its own while it holds yours. So, holding your queue lock,
 *     call only the queries above (and the functions that take no handle); any other call may
 *     need the queue itself (tsr_tick*, tsr_job_prepare, tsr_model_load, tsr_job_read_preview,
 *     tsr_job_get_vk_image, tsr_job_get_map_vk_image, tsr_job_copy_to_vk_image, tsr_job_cancel,
 *     tsr_job_destroy, tsr_context_destroy, ...) and deadlocks.
 *   - tsr_get_last_error() is per thread: it describes the last tsr_ call made on the
 *     calling thread ("" after a success).
 *   - Callbacks (queue lock, log) are called on the thread of the tsr_ call that causes them,
 *     with the context's work lock held: they must not call into Tessera.
 *   - Destroying a context while another thread is inside a call on it is safe: that call
 *     either finishes first or returns TSR_ERROR_INVALID_HANDLE.
 */
#ifndef TESSERA_H
#define TESSERA_H

#include <stddef.h>
#include <stdint.h>

#include <vulkan/vulkan.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(TSR_BUILDING_LIBRARY)
#define TSR_API __declspec(dllexport)
#elif defined(_WIN32)
#define TSR_API __declspec(dllimport)
#elif defined(__GNUC__)
#define TSR_API __attribute__((visibility("default")))
#else
#define TSR_API
#endif

/* ---- version -------------------------------------------------------------------------- */
#define TSR_VERSION_MAJOR 1 /* changes when the ABI breaks */
#define TSR_VERSION_MINOR 4 /* additions (new functions, fields appended to descs) */
#define TSR_VERSION_PATCH 0
#define TSR_MAKE_VERSION(major, minor, patch) \
  ((((uint32_t)(major)) << 22) | (((uint32_t)(minor)) << 12) | ((uint32_t)(patch)))
#define TSR_VERSION TSR_MAKE_VERSION(TSR_VERSION_MAJOR, TSR_VERSION_MINOR, TSR_VERSION_PATCH)
#define TSR_VERSION_GET_MAJOR(v) ((uint32_t)(v) >> 22)
#define TSR_VERSION_GET_MINOR(v) (((uint32_t)(v) >> 12) & 0x3ffu)

/* The library's TSR_VERSION. A host built against major M must check that the library's major is M. */
TSR_API uint32_t tsr_get_version(void);

/* ---- limits (since 1.2; checked by tsr_generate_submit) -------------------------------- */
#define TSR_MAX_IMAGE_SIZE 8192          /* width and height of a generation, in pixels */
#define TSR_MAX_STEPS 1000               /* tsr_generate_desc.steps */
/* Guidance is in [0, TSR_MAX_GUIDANCE]: the runtime's one rule, which the CLI follows too. In
 * tsr_generate_desc 0 means the default (1, off), so a weight of 0 (the null prediction alone)
 * is passed as FLT_MIN, which computes the same. */
#define TSR_MAX_GUIDANCE 100.0f
/* tsr_generate_desc.max_step_gflop when 0: on a CPU device (lavapipe, about 1.4 GFLOP/s on two
 * cores: a 35 s step) and on a GPU (about 0.1-0.5 s at the 10-50 TFLOP/s of current cards). */
#define TSR_DEFAULT_MAX_STEP_GFLOP_CPU 50.0f
#define TSR_DEFAULT_MAX_STEP_GFLOP_GPU 5000.0f
#define TSR_MAX_STRUCT_SIZE 1024         /* largest struct_size a desc may declare (no desc comes near it) */

/* ---- results and errors --------------------------------------------------------------- */
typedef enum tsr_result {
  TSR_SUCCESS = 0,
  TSR_NOT_READY = 1,                  /* the job has no result yet: tick more */
  TSR_ERROR_INVALID_ARGUMENT = -1,    /* NULL pointer, bad desc field, out-of-range value */
  TSR_ERROR_INVALID_HANDLE = -2,      /* zero, destroyed, or of a destroyed context */
  TSR_ERROR_UNKNOWN_CLASS = -3,       /* class name or index not in the model */
  TSR_ERROR_INVALID_SIZE = -4,        /* image size not a positive multiple of the model's factor */
  TSR_ERROR_INVALID_MODEL = -5,       /* corrupt, truncated or incompatible model file */
  TSR_ERROR_IO = -6,                  /* a file could not be read */
  TSR_ERROR_UNSUPPORTED = -7,         /* the device or library lacks what was asked */
  TSR_ERROR_OUT_OF_MEMORY = -8,       /* host or device memory */
  TSR_ERROR_BUFFER_TOO_SMALL = -9,    /* a host buffer cannot hold the result */
  TSR_ERROR_JOB_CANCELLED = -10,      /* the job was cancelled: no result */
  TSR_ERROR_JOB_FAILED = -11,         /* the job failed; the message says why */
  TSR_ERROR_VULKAN = -12,             /* a Vulkan call failed (the message names it) */
  TSR_ERROR_DEVICE_LOST = -13,        /* VK_ERROR_DEVICE_LOST: destroy the context */
  TSR_ERROR_INTERNAL = -14,           /* a bug in Tessera: please report the message */
  TSR_RESULT_MAX_ENUM = 0x7fffffff    /* keeps the enum 32-bit, like Vulkan's */
} tsr_result;

/* Text for the calling thread's last tsr_ call ("" after a success). Valid until the next tsr_ call on this thread. */
TSR_API const char* tsr_get_last_error(void);
/* "TSR_SUCCESS", "TSR_ERROR_INVALID_HANDLE", ... ("unknown tsr_result" otherwise). */
TSR_API const char* tsr_result_name(tsr_result result);

/* ---- handles -------------------------------------------------------------------------- */
typedef struct tsr_context { uint64_t id; } tsr_context;
typedef struct tsr_model { uint64_t id; } tsr_model;
typedef struct tsr_job { uint64_t id; } tsr_job;

/* ---- context -------------------------------------------------------------------------- */
typedef enum tsr_log_level {
  TSR_LOG_INFO = 0,
  TSR_LOG_WARNING = 1,
  TSR_LOG_ERROR = 2,
  TSR_LOG_LEVEL_MAX_ENUM = 0x7fffffff
} tsr_log_level;
typedef void (*tsr_log_fn)(void* user_data, tsr_log_level level, const char* message);
typedef void (*tsr_queue_lock_fn)(void* user_data);

/* What the host enabled on its VkDevice (tsr_vulkan_device.features). */
typedef enum tsr_vulkan_feature_bits {
  TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE = 1u << 0, /* Vulkan 1.2 timelineSemaphore (VkImage results) */
  TSR_VULKAN_FEATURE_SHADER_FLOAT16 = 1u << 1,     /* shaderFloat16 */
  TSR_VULKAN_FEATURE_STORAGE_16BIT = 1u << 2,      /* storageBuffer16BitAccess */
  TSR_VULKAN_FEATURE_MAX_ENUM = 0x7fffffff
} tsr_vulkan_feature_bits;

/* The host's Vulkan objects. Tessera never destroys them and never creates a second instance.
 * The instance must be created with VkApplicationInfo.apiVersion >= VK_API_VERSION_1_2 and the
 * physical device must support 1.2; the queue family must support compute. Vulkan 1.1 with
 * VK_KHR_timeline_semaphore is not supported. tsr_context_create() refuses a 1.0/1.1 instance
 * (seen as a device without the 1.2 commands), a 1.0/1.1 device, and features claimed that the
 * device does not support, with TSR_ERROR_UNSUPPORTED. Whether a claimed feature was enabled
 * on the VkDevice cannot be queried: a validation layer on your instance reports a claimed but
 * disabled timelineSemaphore when the context is created. The host destroys the objects only
 * after tsr_context_destroy() returns. */
typedef struct tsr_vulkan_device {
  VkInstance instance;
  VkPhysicalDevice physical_device;
  VkDevice device;
  uint32_t queue_family_index;
  uint32_t queue_index;
  uint32_t features; /* tsr_vulkan_feature_bits the host enabled; 0 = none */
  /* When the queue is shared with the host's own threads: called around every vkQueueSubmit
   * and vkQueueWaitIdle Tessera makes on it. Both NULL = Tessera is the queue's only user. */
  tsr_queue_lock_fn lock_queue;
  tsr_queue_lock_fn unlock_queue;
  void* queue_lock_user_data;
  /* Further queue families that will use result images (e.g. the host's graphics family):
   * those images are then created VK_SHARING_MODE_CONCURRENT. 0 = Tessera's family only. */
  const uint32_t* result_queue_families;
  uint32_t result_queue_family_count;
} tsr_vulkan_device;

typedef enum tsr_context_flag_bits {
  /* Own device: enable VK_LAYER_KHRONOS_validation (also TESSERA_VALIDATION=1). With a host
   * device it is refused (TSR_ERROR_INVALID_ARGUMENT): enable the layer on your own instance,
   * which then validates Tessera's calls too. */
  TSR_CONTEXT_VALIDATION = 1u << 0,
  TSR_CONTEXT_FLAG_MAX_ENUM = 0x7fffffff
} tsr_context_flag_bits;

/* Since 1.4: how a context's inference computes (tsr_context_desc.arithmetic). */
typedef enum tsr_arithmetic {
  TSR_ARITHMETIC_DEFAULT = 0,  /* = TSR_ARITHMETIC_FAST */
  TSR_ARITHMETIC_FAST = 1,     /* each device's fastest kernels; results differ in the last bits between devices */
  /* The same bytes on every conformant Vulkan device for a given model, class, seed, size,
   * sampler and steps (docs/portable.md); slower (docs/PERF.md). */
  TSR_ARITHMETIC_PORTABLE = 2,
  TSR_ARITHMETIC_MAX_ENUM = 0x7fffffff
} tsr_arithmetic;

typedef struct tsr_context_desc {
  uint32_t struct_size; /* sizeof(tsr_context_desc) */
  uint32_t flags;       /* tsr_context_flag_bits */
  /* Host device; all-zero = Tessera creates its own instance and device (headless). */
  tsr_vulkan_device vulkan;
  /* Own device: index ("1") or name substring ("nvidia"); NULL = TESSERA_DEVICE, else the best device type. */
  const char* device;
  /* Where compiled pipelines are cached; NULL = TESSERA_PIPELINE_CACHE or ~/.cache/tessera; "none" = off.
   * A folder given here must be writable (it is created if missing), else TSR_ERROR_IO. A
   * default folder that is not writable only costs the cache: a warning is logged. */
  const char* pipeline_cache_dir;
  /* Messages: which device was chosen and why, Vulkan validation output. NULL = stderr. */
  tsr_log_fn log;
  void* log_user_data;
  /* Since 1.4: tsr_arithmetic; 0 = TSR_ARITHMETIC_DEFAULT. (A host whose struct_size ends
   * before this field gets the default.) */
  uint32_t arithmetic;
} tsr_context_desc;

TSR_API tsr_result tsr_context_create(const tsr_context_desc* desc, tsr_context* out_context);
/* Cancels the context's jobs, waits for its GPU work, destroys its models, jobs and result
 * images. The host's Vulkan objects are left alive. */
TSR_API tsr_result tsr_context_destroy(tsr_context context);
/* Name of the device in use ("llvmpipe (LLVM ...)"), copied with a terminating NUL; truncated to capacity. */
TSR_API tsr_result tsr_context_get_device_name(tsr_context context, char* out_name, size_t capacity);

/* Device memory of one context (since 1.1). */
typedef struct tsr_memory_info {
  uint32_t struct_size;            /* sizeof(tsr_memory_info), set by the caller */
  uint64_t device_bytes_in_use;    /* what the context holds now: model weights (also of destroyed
                                      models still used by jobs), the sampler plans of running jobs,
                                      result buffers and result images. Pipelines and the host's
                                      own allocations are not counted. */
  uint64_t device_local_heap_bytes; /* total size of the device's DEVICE_LOCAL heaps (shared with the
                                       host and other processes: an upper bound, not a free amount) */
} tsr_memory_info;

TSR_API tsr_result tsr_context_get_memory(tsr_context context, tsr_memory_info* out_info);

/* ---- models --------------------------------------------------------------------------- */
/* Since 1.3: the maps of a material (SPEC section 12). A model generates albedo (every model)
 * and, a material model, height and roughness; the normal map is derived from the height on
 * the device as the last part of the job's GPU work. tsr_model_info.map_mask says which a
 * model's jobs give. */
typedef enum tsr_map {
  TSR_MAP_ALBEDO = 0,    /* sRGB colour, as tsr_job_read_pixels */
  TSR_MAP_HEIGHT = 1,    /* [0, 1] height, grey */
  TSR_MAP_ROUGHNESS = 2, /* [0, 1] roughness (0 = mirror-smooth), grey */
  TSR_MAP_NORMAL = 3,    /* tangent-space unit normal, (n * 0.5 + 0.5) * 255 */
  TSR_MAP_MAX_ENUM = 0x7fffffff
} tsr_map;

typedef struct tsr_model_desc {
  uint32_t struct_size; /* sizeof(tsr_model_desc) */
  const char* path;     /* a .safetensors model file, or NULL when data is given; a file split in
                           parts (PATH.parts beside PATH.part-000-of-NNN ...) is read whole when
                           PATH itself is absent (docs/gpu.md) */
  const void* data;     /* the file's bytes in memory (copied during the call) */
  size_t data_size;
} tsr_model_desc;

typedef struct tsr_model_info {
  uint32_t struct_size;        /* sizeof(tsr_model_info), set by the caller */
  uint32_t class_count;        /* 0 = unconditional model */
  uint32_t train_resolution;   /* default output size */
  uint32_t size_multiple;      /* width and height must be multiples of this */
  uint64_t parameter_count;
  /* Since 1.3: the maps the model's jobs give, bit (1u << tsr_map) each: albedo always, normal
   * whenever the model has height (derived from it). (A host whose struct_size ends before
   * this field does not get it.) */
  uint32_t map_mask;
} tsr_model_info;

TSR_API tsr_result tsr_model_load(tsr_context context, const tsr_model_desc* desc, tsr_model* out_model);
/* Jobs already submitted keep the model's weights alive until they are destroyed. */
TSR_API tsr_result tsr_model_destroy(tsr_model model);
TSR_API tsr_result tsr_model_get_info(tsr_model model, tsr_model_info* out_info);
/* Class name `index`, copied with a terminating NUL; truncated to capacity. */
TSR_API tsr_result tsr_model_get_class_name(tsr_model model, uint32_t index, char* out_name, size_t capacity);
/* Since 1.3: the index of the class `name_or_index` names: a class name, else a decimal index
 * (a name wins), the lookup tsr_generate_desc.class_name and the `tessera` CLI use. Else
 * TSR_ERROR_UNKNOWN_CLASS, the last error listing the model's classes. An unconditional model
 * has the one index 0. */
TSR_API tsr_result tsr_model_find_class(tsr_model model, const char* name_or_index, uint32_t* out_index);

/* ---- generation ----------------------------------------------------------------------- */
typedef enum tsr_sampler {
  TSR_SAMPLER_DEFAULT = 0, /* DPM-Solver++(2M) */
  TSR_SAMPLER_DPMPP_2M = 1,
  TSR_SAMPLER_DDIM = 2,
  TSR_SAMPLER_DDPM = 3,
  TSR_SAMPLER_MAX_ENUM = 0x7fffffff
} tsr_sampler;

/* Since 1.3: tsr_generate_desc.normal_flags. */
typedef enum tsr_normal_flag_bits {
  TSR_NORMAL_DIRECTX = 1u << 0, /* +Y down (green flipped); default OpenGL, +Y up */
  TSR_NORMAL_FLAG_MAX_ENUM = 0x7fffffff
} tsr_normal_flag_bits;
#define TSR_MAX_NORMAL_STRENGTH 1000.0f /* tsr_generate_desc.normal_strength, in texels */

typedef struct tsr_generate_desc {
  uint32_t struct_size; /* sizeof(tsr_generate_desc) */
  tsr_model model;
  const char* class_name; /* class by name (or decimal index, tsr_model_find_class); NULL = class_index */
  uint32_t class_index;   /* class by index (class-conditional models) */
  uint64_t seed;          /* same seed, model, options and device: bit-identical image */
  /* Output size: multiples of tsr_model_info.size_multiple, at most TSR_MAX_IMAGE_SIZE. 0 = the
   * model's training resolution (tsr_model_info.train_resolution; 32 for the bundled model),
   * for each of width and height separately. */
  uint32_t width, height;
  tsr_sampler sampler;
  uint32_t steps; /* 0 = 25; at most TSR_MAX_STEPS */
  /* Classifier-free guidance weight in [0, TSR_MAX_GUIDANCE]; 0 = 1 (off). Other values than 1
   * need a class-conditional model and cost a double-batch step. */
  float guidance;
  float eta;        /* DDIM noise in [0, 1]; 0 = deterministic */
  /* img2img: RGBA8 pixels, width*height, rows init_row_pitch bytes apart (0 = width*4). Copied
   * during the call. Noised to `strength` and denoised from there. init_rgba_size (below) says
   * how many bytes it holds. */
  const uint8_t* init_rgba;
  uint32_t init_row_pitch;
  /* img2img strength in [0, 1]: the share of the schedule re-run (steps * strength, rounded).
   * Unlike other fields, 0 is not "default": it re-runs nothing and the job finishes at its
   * first tick with init_rgba's pixels. Set it whenever init_rgba is given without a mask
   * (0.75 is a common choice); leave it 0 otherwise. (Before 1.1, 0 meant 0.75.) */
  float strength;
  /* Inpainting (needs init_rgba: the image whose pixels are kept): one byte per pixel,
   * 255 = generate, 0 = keep init's pixel, values between blend. Rows mask_row_pitch bytes
   * apart (0 = width). The whole image is generated from noise; strength must be 0. */
  const uint8_t* mask;
  uint32_t mask_row_pitch;
  /* Since 1.2: the bytes readable at init_rgba and at mask. Required (non-zero) with their
   * pointer: at least row_pitch * (height - 1) + width * 4 bytes for init_rgba and
   * mask_row_pitch * (height - 1) + width for mask, else TSR_ERROR_BUFFER_TOO_SMALL. (A host
   * built against an older tessera.h, whose struct_size ends before these fields, is trusted
   * to pass buffers of that size, as before.) */
  size_t init_rgba_size;
  size_t mask_size;
  /* Since 1.2: the most work one sampler step of this job may be, in GFLOP (10^9 floating-point
   * operations of its convolutions, linears and attention, counted from its plan, doubled when
   * guided); 0 = TSR_DEFAULT_MAX_STEP_GFLOP_CPU on a CPU device (VK_PHYSICAL_DEVICE_TYPE_CPU),
   * TSR_DEFAULT_MAX_STEP_GFLOP_GPU on any other, INFINITY = no limit. A tick runs whole steps, so
   * one step is the least a tick can take; its time is its work over the device's rate, e.g. on
   * the bundled model: 64x64 is 3 GFLOP, 128x128 13, 256x256 and 8192x8 72 (the work follows
   * the pixel count and the attention tokens, not the shape: 8192x8 and 512x128 steps took 49
   * and 56 s on lavapipe with 2 busy cores, about 1.4 GFLOP/s; a GPU's rate is orders of
   * magnitude higher: tsr_tick_stats.max_step_ms shows what a step costs on yours). On a CPU
   * device the default admits the bundled model at 128x128 with guidance (26 GFLOP) and refuses
   * 256x256; on a GPU the limit is 100 times higher.
   * A host built against an older tessera.h gets no limit, as before. */
  float max_step_gflop;
  /* Since 1.3, for models with height (tsr_model_info.map_mask has TSR_MAP_NORMAL): the
   * derived normal map's height range in texels (the height in texels is height * this; a
   * larger value makes the relief steeper), finite in [0, TSR_MAX_NORMAL_STRENGTH]; 0 = 3, the
   * bundled material model's scale. Convention: TSR_NORMAL_DIRECTX bits in normal_flags, other
   * bits are refused. (A host whose struct_size ends before these fields gets the defaults.) */
  float normal_strength;
  uint32_t normal_flags; /* tsr_normal_flag_bits; 0 = OpenGL (+Y up) */
} tsr_generate_desc;

/* Validates everything and queues the job; returns at once (no GPU work). Checked here, so
 * that a job that cannot run is refused before any tick, with a message naming the numbers:
 *   - the limits above (TSR_ERROR_INVALID_SIZE for sizes, TSR_ERROR_INVALID_ARGUMENT else);
 *   - the work of one step against max_step_gflop (TSR_ERROR_INVALID_SIZE);
 *   - the device memory of the job's plan (laid out, not allocated: its U-Net activations and
 *     sampler buffers) against the device's largest allocation and its device-local heap less
 *     what the context holds (TSR_ERROR_OUT_OF_MEMORY, e.g. 8192x8192), and its largest tensor
 *     against the device's storage-buffer range (TSR_ERROR_INVALID_SIZE). Memory that the host
 *     and other programs use is not known here: a job that passes can still fail at its first
 *     tick (TSR_JOB_FAILED) on a device that is full. */
TSR_API tsr_result tsr_generate_submit(tsr_context context, const tsr_generate_desc* desc, tsr_job* out_job);

typedef struct tsr_tick_stats {
  uint32_t struct_size; /* sizeof(tsr_tick_stats), set by the caller */
  uint32_t steps_run;   /* sampler steps run by this tick */
  uint32_t jobs_finished;
  uint32_t jobs_pending; /* queued or running after the tick */
  double gpu_ms;         /* GPU time of the steps run (timestamp queries); since 1.3 also of a
                            blocking tick's normals pass (its wall time: it is not a step) */
  double max_step_ms;    /* the longest of those steps: a tick overruns its budget by less than this */
  /* Since 1.2 (tsr_tick_async). steps_run, gpu_ms and max_step_ms then count the steps this
   * tick collected (finished on the GPU since the last tick). */
  uint32_t steps_submitted; /* steps left running on the GPU after the tick; a later tick collects them */
  uint32_t busy;            /* 1: another thread held the context, so this tick did nothing (all else 0) */
} tsr_tick_stats;

/* Advances queued jobs within budget_ms of GPU time (> 0): at least one step when any job is
 * pending, then more while the next step's expected time still fits. out_stats may be NULL.
 * A job that fails is marked TSR_JOB_FAILED (the tick itself still succeeds). */
TSR_API tsr_result tsr_tick(tsr_context context, double budget_ms, tsr_tick_stats* out_stats);

/* Since 1.2. The non-blocking tick: first collects the steps the previous tick submitted, if
 * the GPU has finished them (progress, results, timestamps; never waits), then, when none are
 * left running, submits new steps in one vkQueueSubmit: whole steps whose expected GPU time
 * (measured earlier) fits budget_ms, at least one, and a single step while its cost is not yet
 * known (always, on a queue without timestamps). It returns without waiting for them. A
 * job's first step also builds its sampler on the calling thread unless tsr_job_prepare() did.
 * The finishing tick reads the result back. When another thread is inside a call on the
 * context, it returns TSR_SUCCESS at once with stats.busy = 1. Calls that need a job's
 * running steps to end (tsr_job_cancel, tsr_job_destroy, tsr_job_read_preview, tsr_tick,
 * tsr_context_destroy) wait for them. */
TSR_API tsr_result tsr_tick_async(tsr_context context, double budget_ms, tsr_tick_stats* out_stats);

/* Since 1.2. Builds a queued job's sampler now (device memory, command recording and, on a
 * context's first use, compute pipelines), so that its first tick only runs steps. Holds the
 * context while it works: call it from a loading thread, where a tsr_tick_async() meanwhile
 * returns busy. Does nothing for a job already running or finished. */
TSR_API tsr_result tsr_job_prepare(tsr_job job);

typedef enum tsr_job_status {
  TSR_JOB_QUEUED = 0,
  TSR_JOB_RUNNING = 1,
  TSR_JOB_DONE = 2,
  TSR_JOB_FAILED = 3,
  TSR_JOB_CANCELLED = 4,
  TSR_JOB_STATUS_MAX_ENUM = 0x7fffffff
} tsr_job_status;

TSR_API tsr_result tsr_job_get_status(tsr_job job, tsr_job_status* out_status);
/* Either pointer may be NULL. steps_total is known from submission on. */
TSR_API tsr_result tsr_job_get_progress(tsr_job job, uint32_t* out_steps_done, uint32_t* out_steps_total);
/* Stops a queued or running job and frees its device memory; a finished job is left as it is. */
TSR_API tsr_result tsr_job_cancel(tsr_job job);
/* Frees the job and its result image. The host must no longer use that image on the GPU. */
TSR_API tsr_result tsr_job_destroy(tsr_job job);

/* ---- results -------------------------------------------------------------------------- */
/* The finished image as RGBA8 (alpha 255), rows row_pitch bytes apart (0 = width*4), into
 * out_pixels of capacity bytes. TSR_NOT_READY while the job runs. The albedo map: the same
 * as tsr_job_read_map(job, TSR_MAP_ALBEDO, ...). */
TSR_API tsr_result tsr_job_read_pixels(tsr_job job, void* out_pixels, size_t capacity, uint32_t row_pitch);
/* Since 1.3: one map of the finished job, in tsr_job_read_pixels' format (RGBA8, alpha 255):
 * albedo as RGB; height and roughness as 8-bit grey in R = G = B (round(v * 255) of the [0, 1]
 * value); normal as round((n * 0.5 + 0.5) * 255) per component (flat = 128, 128, 255).
 * TSR_NOT_READY while the job runs; TSR_ERROR_INVALID_ARGUMENT naming the map when the model
 * lacks it (tsr_model_info.map_mask). Takes only the status lock, like tsr_job_read_pixels. */
TSR_API tsr_result tsr_job_read_map(tsr_job job, tsr_map map, void* out_pixels, size_t capacity, uint32_t row_pitch);
/* Progressive preview: the current estimate of the final image (x0) of a running job, or the
 * result of a finished one, in the same format. TSR_NOT_READY before the job's first step. */
TSR_API tsr_result tsr_job_read_preview(tsr_job job, void* out_pixels, size_t capacity, uint32_t row_pitch);

/* A context-owned result image. */
typedef struct tsr_vk_image {
  VkImage image;         /* 2D, 1 mip, 1 layer, usage SAMPLED | TRANSFER_SRC | TRANSFER_DST,
                            created MUTABLE_FORMAT (an R8G8B8A8_SRGB view is allowed) */
  VkFormat format;       /* VK_FORMAT_R8G8B8A8_UNORM */
  VkImageLayout layout;  /* VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL once the wait completes */
  uint32_t width, height;
  VkSemaphore semaphore; /* timeline semaphore; wait for value >= wait_value before use */
  uint64_t wait_value;   /* (VK_NULL_HANDLE / 0 when the device has no timeline semaphores:
                            the image is then ready when the call returns) */
} tsr_vk_image;

/* The finished image as a VkImage owned by the context (made on the first call; later calls
 * return the same image). Only for contexts on a host device. Lives until tsr_job_destroy. */
TSR_API tsr_result tsr_job_get_vk_image(tsr_job job, tsr_vk_image* out_image);
/* Since 1.3: one map of the finished job as a context-owned VkImage, under the rules of
 * tsr_job_get_vk_image (which is this call with TSR_MAP_ALBEDO), with the pixels of
 * tsr_job_read_map. Each map is its own single-layer image (not one array image), made on its
 * first call, so that a host pays only for the maps it uses and binds each like any texture. All
 * live until tsr_job_destroy. A map the model lacks: TSR_ERROR_INVALID_ARGUMENT naming it. */
TSR_API tsr_result tsr_job_get_map_vk_image(tsr_job job, tsr_map map, tsr_vk_image* out_image);

typedef struct tsr_vk_image_copy_desc {
  uint32_t struct_size; /* sizeof(tsr_vk_image_copy_desc) */
  VkImage image;        /* the host's 2D image, created on the same VkDevice, usable on Tessera's
                           queue family; described by the fields from `width` on */
  VkFormat format;      /* R8G8B8A8_UNORM, _SRGB or _UINT (bytes copied as they are) */
  /* The image's layout now; UNDEFINED = discard its contents. GENERAL, TRANSFER_SRC_OPTIMAL,
   * TRANSFER_DST_OPTIMAL, SHADER_READ_ONLY_OPTIMAL, COLOR_ATTACHMENT_OPTIMAL or PRESENT_SRC_KHR. */
  VkImageLayout old_layout;
  /* The layout to leave it in (one of old_layout's list but UNDEFINED);
   * 0 (UNDEFINED) = SHADER_READ_ONLY_OPTIMAL. */
  VkImageLayout new_layout;
  uint32_t mip_level, array_layer;
  int32_t x, y; /* destination offset in texels, in mip level mip_level */
  /* Since 1.2: the image as the host created it (VkImageCreateInfo), checked before anything is
   * recorded; TSR_ERROR_INVALID_ARGUMENT names what does not fit. Required: the job's size at
   * (x, y) must fit inside mip level mip_level (width and height >> mip_level, at least 1),
   * mip_level < mip_levels, array_layer < array_layers, and `usage` must hold TRANSFER_DST plus
   * what the layouts need: SAMPLED (or INPUT_ATTACHMENT) for SHADER_READ_ONLY_OPTIMAL (the
   * default new_layout), TRANSFER_SRC for TRANSFER_SRC_OPTIMAL, COLOR_ATTACHMENT for
   * COLOR_ATTACHMENT_OPTIMAL. (A host built against an older tessera.h, whose struct_size ends
   * before these fields, is trusted to give a fitting image, as before.) */
  uint32_t width, height;  /* VkImageCreateInfo.extent of mip level 0 */
  uint32_t mip_levels;     /* VkImageCreateInfo.mipLevels; 0 = 1 */
  uint32_t array_layers;   /* VkImageCreateInfo.arrayLayers; 0 = 1 */
  VkImageUsageFlags usage; /* VkImageCreateInfo.usage */
} tsr_vk_image_copy_desc;

/* Records and submits the copy of a finished job's pixels into the host's image. The copy is
 * complete when the context's timeline semaphore (out_semaphore) reaches *out_wait_value; with no
 * timeline semaphore the call waits and returns VK_NULL_HANDLE / 0. Either out pointer may be NULL. */
TSR_API tsr_result tsr_job_copy_to_vk_image(tsr_job job, const tsr_vk_image_copy_desc* desc,
                                            VkSemaphore* out_semaphore, uint64_t* out_wait_value);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_H */
