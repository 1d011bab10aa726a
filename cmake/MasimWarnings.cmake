# One interface target carrying warnings (and sanitizers) for every masim target.
add_library(masim_options INTERFACE)
add_library(masim::options ALIAS masim_options)
target_compile_options(masim_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wno-missing-field-initializers>)
if(MASIM_WERROR)
  target_compile_options(masim_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
if(MASIM_SANITIZE)
  target_compile_options(masim_options INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined>)
  target_link_options(masim_options INTERFACE -fsanitize=address,undefined)
endif()

# masim_library(NAME SOURCES... DEPS ...): one directory = one library = one target.
function(masim_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(masim_${name} STATIC ${ARG_SOURCES})
  add_library(masim::${name} ALIAS masim_${name})
  target_include_directories(masim_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(masim_${name} PUBLIC masim::options ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# masim_test(NAME SOURCES... DEPS ...): one doctest binary per module, run by ctest.
function(masim_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${PROJECT_SOURCE_DIR}/tests/doctest_main.cpp ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE masim::options doctest::doctest ${ARG_DEPS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(${name} PRIVATE MASIM_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                             MASIM_TEST_TIME_SCALE=${MASIM_TEST_TIME_SCALE})
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  # ctest's default limit (1500 s), scaled like every other test time limit.
  math(EXPR _timeout "1500 * ${MASIM_TEST_TIME_SCALE}")
  set_tests_properties(${name} PROPERTIES TIMEOUT ${_timeout})
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

# masim_benchmark(NAME SOURCES... DEPS ...): Google Benchmark binary, not a test.
function(masim_benchmark name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  if(MASIM_BUILD_BENCHMARKS AND TARGET benchmark::benchmark)
    add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE masim::options benchmark::benchmark ${ARG_DEPS})
    target_compile_definitions(${name} PRIVATE MASIM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  endif()
endfunction()
