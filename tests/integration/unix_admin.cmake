ts_add_test(unix_admin_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unix_admin_test.cpp
  LIBS ts_test_support
  LABELS integration TIMEOUT 60)
add_dependencies(unix_admin_test tenantsync)
