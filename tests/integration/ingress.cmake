ts_add_test(ingress_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ingress_test.cpp
  LIBS ts_test_support ts_adapters SQLiteCpp SQLite::SQLite3
  LABELS integration TIMEOUT 300)
add_dependencies(ingress_test tenantsync)
ts_add_test(crash_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/crash_test.cpp
  LIBS ts_test_support ts_adapters SQLiteCpp SQLite::SQLite3
  LABELS integration TIMEOUT 300)
add_dependencies(crash_test tenantsync)
