ts_add_test(dryrun_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/dryrun_test.cpp
  LIBS ts_test_support
  LABELS integration TIMEOUT 120)
add_dependencies(dryrun_test tenantsync auth0-sim)
