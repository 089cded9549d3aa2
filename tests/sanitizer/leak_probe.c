/* Probe for test_leak_check.cpp, built only in sanitized builds, linked like our executables.
 *   leak_probe module LIB   dlopen LIB, let it allocate, dlclose it (as the Vulkan loader does
 *                           with a driver it probed): must not count as our leak
 *   leak_probe own          leak from our own code: LeakSanitizer must report it */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void* volatile our_leak;

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "module") == 0) {
    void* lib = dlopen(argv[2], RTLD_NOW);
    if (!lib) {
      fprintf(stderr, "leak_probe: %s\n", dlerror());
      return 3;
    }
    void (*allocate)(void) = (void (*)(void))dlsym(lib, "leaky_module_allocate");
    if (!allocate) return 3;
    allocate();
    dlclose(lib);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "own") == 0) {
    our_leak = malloc(77);
    our_leak = NULL;
    return 0;
  }
  fprintf(stderr, "usage: leak_probe module LIB | leak_probe own\n");
  return 2;
}
