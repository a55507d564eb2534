# Shared CMake helpers: warning flags for project code and the one way tests are registered.

set(TENANTSYNC_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(TENANTSYNC_WERROR)
  list(APPEND TENANTSYNC_WARNINGS -Werror)
endif()

# ts_target_defaults(<target>): project warning flags and include root.
function(ts_target_defaults target)
  target_compile_options(${target} PRIVATE ${TENANTSYNC_WARNINGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()

# ts_add_library(<name> SOURCES ... [LIBS ...]): a static library of project code.
function(ts_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  ts_target_defaults(${name})
  target_link_libraries(${name} PUBLIC ${ARG_LIBS})
endfunction()

# ts_add_test(<name> SOURCES ... [LIBS ...] [LABELS ...] [TIMEOUT s]): one GoogleTest binary per
# unit, registered with CTest. Every test gets TENANTSYNC_SHARED_DIR and the build directory in
# its environment so it can find fixtures and the built binaries.
function(ts_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  ts_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  set_tests_properties(${name} PROPERTIES
    TIMEOUT ${ARG_TIMEOUT}
    LABELS "${ARG_LABELS}"
    ENVIRONMENT "TENANTSYNC_SHARED_DIR=${TENANTSYNC_SHARED_DIR};TENANTSYNC_BUILD_DIR=${PROJECT_BINARY_DIR}")
endfunction()
