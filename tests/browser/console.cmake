# The console's file server in process (daemon/console/console.h): paths, types, security headers,
# and the embedded files' rules (no inline script or style, no HTML parsing of data).
ts_add_test(console_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/console_test.cpp
  LIBS ts_console
  LABELS unit TIMEOUT 30)
target_compile_definitions(console_test PRIVATE TENANTSYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
