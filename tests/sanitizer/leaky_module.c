/* A stand-in for a Vulkan driver probed and unloaded by the loader: it keeps an allocation for
 * the life of the process, reachable only from its own data (test_leak_check.cpp). */
#include <stdlib.h>
#include <string.h>

static void* process_lifetime_cache;

void leaky_module_allocate(void) {
  /* Reachable while the module is mapped; unreachable (a leak) once it is unmapped. */
  process_lifetime_cache = malloc(128);
  memset(process_lifetime_cache, 1, 128);
}
