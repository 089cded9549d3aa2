/* A minimal engine host of the Tessera C API.
 *
 * It creates its own Vulkan 1.2 instance and device (as an engine would), hands them to
 * Tessera, queues one texture, prepares its plan (tsr_job_prepare, what a loading screen
 * would do) and then "renders frames": each frame gives Tessera a 4 ms GPU budget with
 * tsr_tick() (TICK "blocking", the default) or tsr_tick_async() (TICK "async": submit and
 * return, collect next frame) and could draw the progressive preview. When the job is done
 * the result is written as a PNG. A material model's further maps (height, roughness and the
 * derived normal map, tsr_model_info.map_mask) are fetched too, each as its own VkImage, and
 * written next to it as OUT_height.png, OUT_roughness.png, OUT_normal.png. At the end it prints what the ticks cost the calling thread
 * (CPU time and wall time per tick), the numbers docs/plugin.md quotes.
 *
 * usage: tessera_host_c MODEL.safetensors OUT.png [CLASS] [SEED] [STEPS] [TICK]
 * With TESSERA_VALIDATION=1 the validation layer is enabled and any message fails the run.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vulkan/vulkan.h>

#include <stb/stb_image_write.h>

#include "tessera.h"

static int validation_messages = 0;

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                    VkDebugUtilsMessageTypeFlagsEXT types,
                                                    const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  (void)severity, (void)types, (void)user;
  fprintf(stderr, "validation: %s\n", data->pMessage);
  ++validation_messages;
  return VK_FALSE;
}

static void log_message(void* user, tsr_log_level level, const char* message) {
  (void)user;
  fprintf(stderr, "[tessera %s] %s\n", level == TSR_LOG_INFO ? "info" : level == TSR_LOG_WARNING ? "warn" : "error",
          message);
}

/* The engine's render thread would hold this lock around its own vkQueueSubmit calls. */
static int queue_locked = 0;
static void lock_queue(void* user) { (void)user, ++queue_locked; }
static void unlock_queue(void* user) { (void)user, --queue_locked; }

static double now_ms(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

#define CHECK_TSR(call)                                                                           \
  do {                                                                                            \
    tsr_result r_ = (call);                                                                       \
    if (r_ != TSR_SUCCESS) {                                                                      \
      fprintf(stderr, "%s failed: %s: %s\n", #call, tsr_result_name(r_), tsr_get_last_error()); \
      return 1;                                                                                   \
    }                                                                                             \
  } while (0)

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL.safetensors OUT.png [CLASS] [SEED] [STEPS] [blocking|async]\n", argv[0]);
    return 2;
  }
  const int async = argc > 6 && strcmp(argv[6], "async") == 0;
  if (argc > 6 && !async && strcmp(argv[6], "blocking") != 0) {
    fprintf(stderr, "TICK must be 'blocking' or 'async', not '%s'\n", argv[6]);
    return 2;
  }
  const char* validation_env = getenv("TESSERA_VALIDATION");
  int validation = validation_env && strcmp(validation_env, "1") == 0;

  /* --- the engine's Vulkan setup ------------------------------------------------------------ */
  VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "tessera_host_c";
  app.apiVersion = VK_API_VERSION_1_2;
  const char* layer = "VK_LAYER_KHRONOS_validation";
  const char* debug_ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  if (validation) {
    ici.enabledLayerCount = 1;
    ici.ppEnabledLayerNames = &layer;
    ici.enabledExtensionCount = 1;
    ici.ppEnabledExtensionNames = &debug_ext;
  }
  VkInstance instance;
  if (vkCreateInstance(&ici, NULL, &instance) != VK_SUCCESS) {
    fprintf(stderr, "vkCreateInstance failed\n");
    return 1;
  }
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  if (validation) {
    VkDebugUtilsMessengerCreateInfoEXT mci = {.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    mci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT;
    mci.pfnUserCallback = on_validation;
    PFN_vkCreateDebugUtilsMessengerEXT create =
        (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT");
    if (create) create(instance, &mci, NULL, &messenger);
  }
  uint32_t count = 1;
  VkPhysicalDevice physical;
  if (vkEnumeratePhysicalDevices(instance, &count, &physical) < 0 || count == 0) {
    fprintf(stderr, "no Vulkan device\n");
    return 1;
  }
  /* The first family with compute; a real engine would pick its graphics family here. */
  VkQueueFamilyProperties families[16];
  uint32_t family_count = 16, family = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &family_count, families);
  while (family < family_count && !(families[family].queueFlags & VK_QUEUE_COMPUTE_BIT)) ++family;
  float priority = 1.0f;
  VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = family;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  f12.timelineSemaphore = VK_TRUE; /* lets Tessera hand out VkImage results with a wait value */
  VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.pNext = &f12;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  VkDevice device;
  if (vkCreateDevice(physical, &dci, NULL, &device) != VK_SUCCESS) {
    fprintf(stderr, "vkCreateDevice failed\n");
    return 1;
  }

  /* --- Tessera on the engine's device --------------------------------------------------------- */
  if (TSR_VERSION_GET_MAJOR(tsr_get_version()) != TSR_VERSION_MAJOR) {
    fprintf(stderr, "libtessera has an incompatible ABI\n");
    return 1;
  }
  tsr_context_desc cd;
  memset(&cd, 0, sizeof cd);
  cd.struct_size = sizeof cd;
  cd.vulkan.instance = instance;
  cd.vulkan.physical_device = physical;
  cd.vulkan.device = device;
  cd.vulkan.queue_family_index = family;
  cd.vulkan.features = TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE;
  cd.vulkan.lock_queue = lock_queue;
  cd.vulkan.unlock_queue = unlock_queue;
  cd.log = log_message;
  tsr_context ctx;
  CHECK_TSR(tsr_context_create(&cd, &ctx));

  tsr_model_desc md;
  memset(&md, 0, sizeof md);
  md.struct_size = sizeof md;
  md.path = argv[1];
  tsr_model model;
  CHECK_TSR(tsr_model_load(ctx, &md, &model));

  tsr_generate_desc gd;
  memset(&gd, 0, sizeof gd); /* zero = default: training size, DPM-Solver++, 25 steps, no guidance */
  gd.struct_size = sizeof gd;
  gd.model = model;
  gd.class_name = argc > 3 ? argv[3] : NULL;
  gd.seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
  gd.steps = argc > 5 ? (uint32_t)atoi(argv[5]) : 0;
  tsr_job job;
  CHECK_TSR(tsr_generate_submit(ctx, &gd, &job));
  double prepare_ms = now_ms(CLOCK_MONOTONIC);
  CHECK_TSR(tsr_job_prepare(job)); /* the sampler's CPU work now, not in the first frame */
  printf("tsr_job_prepare: %.1f ms\n", now_ms(CLOCK_MONOTONIC) - prepare_ms);

  /* --- the frame loop ------------------------------------------------------------------------- */
  tsr_job_status status = TSR_JOB_QUEUED;
  int frame = 0;
  double cpu_sum = 0, cpu_max = 0, wall_sum = 0, wall_max = 0;
  while (status == TSR_JOB_QUEUED || status == TSR_JOB_RUNNING) {
    tsr_tick_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    double cpu = now_ms(CLOCK_THREAD_CPUTIME_ID), wall = now_ms(CLOCK_MONOTONIC);
    CHECK_TSR(async ? tsr_tick_async(ctx, 4.0, &stats) : tsr_tick(ctx, 4.0, &stats));
    cpu = now_ms(CLOCK_THREAD_CPUTIME_ID) - cpu;
    wall = now_ms(CLOCK_MONOTONIC) - wall;
    cpu_sum += cpu, wall_sum += wall;
    cpu_max = cpu > cpu_max ? cpu : cpu_max;
    wall_max = wall > wall_max ? wall : wall_max;
    uint32_t done = 0, total = 0;
    CHECK_TSR(tsr_job_get_progress(job, &done, &total));
    CHECK_TSR(tsr_job_get_status(job, &status));
    printf("frame %d: %u step(s), %.2f ms GPU, %u running, progress %u/%u\n", frame++, stats.steps_run, stats.gpu_ms,
           stats.steps_submitted, done, total);
    if (async) { /* the rest of the frame: the GPU works meanwhile */
      struct timespec frame_time = {0, 4000000};
      nanosleep(&frame_time, NULL);
    }
  }
  printf("%s ticks: %d, calling thread per tick: CPU mean %.3f ms max %.3f ms, wall mean %.3f ms max %.3f ms\n",
         async ? "async" : "blocking", frame, cpu_sum / frame, cpu_max, wall_sum / frame, wall_max);
  if (status != TSR_JOB_DONE) {
    unsigned char probe[4];
    tsr_result r = tsr_job_read_pixels(job, probe, sizeof probe, 0); /* says why: cancelled or failed */
    fprintf(stderr, "the job did not finish: %s: %s\n", tsr_result_name(r), tsr_get_last_error());
    return 1;
  }
  tsr_model_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  CHECK_TSR(tsr_model_get_info(model, &info));
  uint32_t size = info.train_resolution;
  size_t bytes = (size_t)size * size * 4;
  unsigned char* pixels = malloc(bytes);
  /* Every map the model gives, as a VkImage on the engine's device (one image per map): sample
   * it once the GPU reaches the timeline value (an engine waits in its own vkQueueSubmit; here
   * the CPU waits). The same pixels are read on the CPU and written as PNGs. */
  static const char* map_names[] = {"albedo", "height", "roughness", "normal"};
  int written = pixels != NULL;
  for (uint32_t map = TSR_MAP_ALBEDO; written && map <= TSR_MAP_NORMAL; ++map) {
    if (!(info.map_mask & (1u << map))) continue;
    tsr_vk_image image;
    CHECK_TSR(tsr_job_get_map_vk_image(job, (tsr_map)map, &image));
    if (image.semaphore != VK_NULL_HANDLE) {
      VkSemaphoreWaitInfo wait = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
      wait.semaphoreCount = 1;
      wait.pSemaphores = &image.semaphore;
      wait.pValues = &image.wait_value;
      if (vkWaitSemaphores(device, &wait, UINT64_MAX) != VK_SUCCESS) {
        fprintf(stderr, "vkWaitSemaphores failed\n");
        return 1;
      }
    }
    CHECK_TSR(tsr_job_read_map(job, (tsr_map)map, pixels, bytes, 0));
    unsigned long long sum = 0; /* a checksum of the map's pixels */
    for (size_t i = 0; i < bytes; ++i) sum = sum * 31 + pixels[i];
    char path[4096];
    const size_t stem = strlen(argv[2]) > 4 ? strlen(argv[2]) - 4 : strlen(argv[2]); /* without ".png" */
    if (map == TSR_MAP_ALBEDO)
      snprintf(path, sizeof path, "%s", argv[2]);
    else
      snprintf(path, sizeof path, "%.*s_%s.png", (int)stem, argv[2], map_names[map]);
    written = stbi_write_png(path, (int)size, (int)size, 4, pixels, (int)size * 4);
    printf("map %s: VkImage %ux%u ready (timeline value %llu), checksum %016llx, %s\n", map_names[map], image.width,
           image.height, (unsigned long long)image.wait_value, sum, path);
  }
  free(pixels);

  /* --- teardown: Tessera first, then the engine's own objects ----------------------------------- */
  CHECK_TSR(tsr_job_destroy(job));
  CHECK_TSR(tsr_model_destroy(model));
  CHECK_TSR(tsr_context_destroy(ctx));
  vkDestroyDevice(device, NULL);
  if (messenger) {
    PFN_vkDestroyDebugUtilsMessengerEXT destroy =
        (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT");
    if (destroy) destroy(instance, messenger, NULL);
  }
  vkDestroyInstance(instance, NULL);
  if (!written) {
    fprintf(stderr, "cannot write %s\n", argv[2]);
    return 1;
  }
  if (queue_locked != 0) {
    fprintf(stderr, "queue lock calls unbalanced\n");
    return 1;
  }
  printf("wrote %s (%ux%u) in %d frames\n", argv[2], size, size, frame);
  return validation_messages ? 3 : 0;
}
