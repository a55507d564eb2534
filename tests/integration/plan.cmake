ts_add_test(plan_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/plan_test.cpp
  LIBS ts_test_support
  LABELS integration TIMEOUT 120)
add_dependencies(plan_test tenantsync auth0-sim)
