# Reads the kernel table shaders/variants.txt (format described at its top) together with the
# shaders/*.comp files and lists every kernel to build: its name, source and glslc defines.
#
# tessera_shader_kernels(<table> <shader_dir> <out_var>) sets <out_var> to the kernel names and,
# for each name N, TESSERA_KERNEL_<N>_SOURCE (absolute path) and TESSERA_KERNEL_<N>_DEFINES
# (a list of NAME=VALUE) in the caller's scope. A malformed row stops the configure with an
# error naming the table, the line and what is wrong.
#
# Run as a script, it prints one line per kernel ("<name> <source file> <defines...>"), which
# the tests use to check the table and its errors:
#   cmake -DTABLE=shaders/variants.txt -DSHADER_DIR=shaders -P cmake/ShaderVariants.cmake
if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  cmake_minimum_required(VERSION 3.22)  # policies (IN_LIST) as in the project
endif()

function(tessera_shader_kernels table shader_dir out_var)
  if(NOT EXISTS "${table}")
    message(FATAL_ERROR "kernel table ${table} does not exist")
  endif()
  file(STRINGS "${table}" lines)
  set(kernels)
  set(table_sources)
  set(line_no 0)
  foreach(line IN LISTS lines)
    math(EXPR line_no "${line_no} + 1")
    string(REGEX REPLACE "#.*" "" line "${line}")
    string(STRIP "${line}" line)
    if(line STREQUAL "")
      continue()
    endif()
    string(REGEX REPLACE "[ \t]+" ";" fields "${line}")
    set(where "${table}:${line_no}")
    list(LENGTH fields count)
    if(count LESS 2)
      message(FATAL_ERROR "${where}: a row needs a kernel name and a source file, got '${line}'")
    endif()
    list(POP_FRONT fields name source)
    # The name becomes a C++ identifier (spv_<name>) in cmake/EmbedSpirv.cmake.
    if(NOT name MATCHES "^[a-z][a-z0-9_]*$")
      message(FATAL_ERROR "${where}: kernel name '${name}' must be lower-case letters, digits and '_'")
    endif()
    if(name IN_LIST kernels)
      message(FATAL_ERROR "${where}: kernel '${name}' is defined twice")
    endif()
    if(NOT source MATCHES "^[A-Za-z0-9_]+\\.comp$" OR NOT EXISTS "${shader_dir}/${source}")
      message(FATAL_ERROR "${where}: source '${source}' of kernel '${name}' is not a file ${shader_dir}/*.comp")
    endif()
    foreach(define IN LISTS fields)
      if(NOT define MATCHES "^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_.+-]+$")
        message(FATAL_ERROR "${where}: define '${define}' of kernel '${name}' is not NAME=VALUE")
      endif()
    endforeach()
    list(APPEND kernels ${name})
    list(APPEND table_sources ${source})
    set(TESSERA_KERNEL_${name}_SOURCE "${shader_dir}/${source}" PARENT_SCOPE)
    set(TESSERA_KERNEL_${name}_DEFINES "${fields}" PARENT_SCOPE)
  endforeach()

  # Every source the table does not mention is one kernel of its own name.
  file(GLOB sources RELATIVE "${shader_dir}" "${shader_dir}/*.comp")
  list(SORT sources)
  foreach(source IN LISTS sources)
    if(source IN_LIST table_sources)
      continue()
    endif()
    get_filename_component(name "${source}" NAME_WE)
    if(name IN_LIST kernels)
      message(FATAL_ERROR "${table}: kernel '${name}' is both a row and ${shader_dir}/${source}; rename one")
    endif()
    list(APPEND kernels ${name})
    set(TESSERA_KERNEL_${name}_SOURCE "${shader_dir}/${source}" PARENT_SCOPE)
    set(TESSERA_KERNEL_${name}_DEFINES "" PARENT_SCOPE)
  endforeach()
  set(${out_var} ${kernels} PARENT_SCOPE)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  get_filename_component(shader_dir "${SHADER_DIR}" ABSOLUTE)
  tessera_shader_kernels("${TABLE}" "${shader_dir}" kernels)
  foreach(name IN LISTS kernels)
    get_filename_component(file "${TESSERA_KERNEL_${name}_SOURCE}" NAME)
    string(REPLACE ";" " " defines "${TESSERA_KERNEL_${name}_DEFINES}")
    string(STRIP "${name} ${file} ${defines}" row)
    message(STATUS "kernel ${row}")
  endforeach()
endif()
