ts_add_test(metrics_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics_test.cpp
  LIBS ts_test_support
  LABELS integration TIMEOUT 300)
add_dependencies(metrics_test tenantsync auth0-sim)
