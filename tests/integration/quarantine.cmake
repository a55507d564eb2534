ts_add_test(quarantine_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/quarantine_test.cpp
  LIBS ts_test_support
  LABELS integration TIMEOUT 120)
add_dependencies(quarantine_test tenantsync auth0-sim)
