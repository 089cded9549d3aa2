/* Linked into every executable of a sanitized build (cmake/Sanitizers.cmake), and preloaded
 * into the hosts we do not build (mono).
 *
 * Why: the Vulkan loader dlopen()s every installed driver to ask whether it has a device, and
 * dlclose()s the ones it does not use; GLFW does the same with X11 extension libraries. What
 * those libraries allocated for the life of the process is then reported by LeakSanitizer from
 * an "<unknown module>", and a suppression can only name a module that is still mapped. Which
 * drivers get probed depends on the machine (its GPUs, its CPU's features for lavapipe's JIT),
 * so no suppression list written in advance could cover them. With dlclose() a no-op every
 * module stays mapped, its frames keep their library name, and tools/lsan.supp suppresses the
 * driver and loader libraries by name while leaks from our own code still fail the run.
 *
 * The definition wins over libc's because this library is a direct dependency of the
 * executable, so it comes before libc in the global symbol lookup order (and after libasan,
 * whose own dlclose interceptor, if any, forwards to the next definition: this one). */
#include <stddef.h>

int dlclose(void* handle) {
  (void)handle;
  return 0;
}
