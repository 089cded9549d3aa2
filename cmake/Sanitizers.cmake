# Sanitized builds (TESSERA_SANITIZE=ON): what makes LeakSanitizer's verdict independent of the
# machine's Vulkan drivers and CPU. Included after every target is defined.
#
# Every executable we build links tessera_keep_modules_loaded, whose no-op dlclose() keeps the
# drivers and layers that the Vulkan loader (and GLFW) probe and unload mapped, so that their
# process-lifetime allocations keep their library names and tools/lsan.supp can suppress them by
# name (tests/sanitizer/keep_modules_loaded.c says why). tests/sanitizer/test_leak_check.cpp
# shows both halves: an unloaded library's allocation is suppressible, our own leak still fails.
if(NOT TESSERA_SANITIZE)
  return()
endif()

add_library(tessera_keep_modules_loaded SHARED ${CMAKE_SOURCE_DIR}/tests/sanitizer/keep_modules_loaded.c)

# A direct dependency comes before libc in the global lookup order; --no-as-needed keeps the
# dependency although nothing in the executable calls dlclose itself.
function(tessera_keep_modules_loaded target)
  target_link_libraries(${target} PRIVATE -Wl,--push-state,--no-as-needed tessera_keep_modules_loaded
                                          -Wl,--pop-state)
endfunction()

foreach(target tessera tessera_host_c tessera-viewer tessera_tests)
  if(TARGET ${target})
    tessera_keep_modules_loaded(${target})
  endif()
endforeach()

if(TARGET tessera_tests)
  # The probe and the stand-in for a probed driver that test_leak_check.cpp runs.
  add_library(tessera_leaky_module SHARED ${CMAKE_SOURCE_DIR}/tests/sanitizer/leaky_module.c)
  add_executable(tessera_leak_probe ${CMAKE_SOURCE_DIR}/tests/sanitizer/leak_probe.c)
  target_link_libraries(tessera_leak_probe PRIVATE ${CMAKE_DL_LIBS})
  tessera_keep_modules_loaded(tessera_leak_probe)
  add_dependencies(tessera_tests tessera_leak_probe tessera_leaky_module)
  target_compile_definitions(
    tessera_tests PRIVATE TESSERA_LEAK_PROBE="$<TARGET_FILE:tessera_leak_probe>"
                          TESSERA_LEAKY_MODULE="$<TARGET_FILE:tessera_leaky_module>"
                          TESSERA_KEEP_MODULES_LOADED="$<TARGET_FILE:tessera_keep_modules_loaded>")
endif()
