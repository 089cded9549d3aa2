#include <gtest/gtest.h>

#if defined(__SANITIZE_ADDRESS__)
#include <dlfcn.h>
#endif

int main(int argc, char** argv) {
#if defined(__SANITIZE_ADDRESS__)
  // The Vulkan loader unloads drivers and layers at instance destruction; LeakSanitizer then
  // reports their process-lifetime allocations as "<unknown module>", which no suppression
  // can name. Keeping them loaded lets tools/lsan.supp name them, and our own leaks still fail.
  for (const char* lib : {"libvulkan_lvp.so", "libVkLayer_khronos_validation.so"}) dlopen(lib, RTLD_NOW | RTLD_NODELETE);
#endif
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
