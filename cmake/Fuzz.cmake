# libFuzzer targets for the parsers of untrusted input (SPEC §11), clang only. Each target
# compiles the parser's sources itself with fuzzer coverage + ASan + UBSan, so it needs
# neither the runtime library nor a Vulkan device (only the Vulkan headers tensor.hpp
# includes). Sources live in fuzz/ (not tests/, whose *.cpp the test executable globs);
# seed corpora in fuzz/corpus/. Run with tools/fuzz.sh.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  option(TESSERA_BUILD_FUZZERS "Build the libFuzzer targets in fuzz/" ON)
  if(TESSERA_BUILD_FUZZERS)
    set(TESSERA_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    add_executable(fuzz_safetensors ${CMAKE_SOURCE_DIR}/fuzz/fuzz_safetensors.cpp
                                    ${CMAKE_SOURCE_DIR}/runtime/src/model/safetensors.cpp
                                    ${CMAKE_SOURCE_DIR}/runtime/src/data/atomic_file.cpp
                                    ${CMAKE_SOURCE_DIR}/runtime/src/data/quote_name.cpp
                                    ${CMAKE_SOURCE_DIR}/runtime/src/data/utf8.cpp
                                    # SafetensorsFile::load also reads split files (FILE.parts)
                                    ${CMAKE_SOURCE_DIR}/runtime/src/data/split_file.cpp
                                    ${CMAKE_SOURCE_DIR}/runtime/src/data/crc32.cpp)
    target_include_directories(fuzz_safetensors PRIVATE ${CMAKE_SOURCE_DIR}/runtime/include)
    target_link_libraries(fuzz_safetensors PRIVATE Vulkan::Headers)
    target_compile_options(fuzz_safetensors PRIVATE ${TESSERA_FUZZ_FLAGS} -Wall -Wextra)
    target_link_options(fuzz_safetensors PRIVATE ${TESSERA_FUZZ_FLAGS})
  endif()
endif()
