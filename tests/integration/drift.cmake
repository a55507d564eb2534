# Issue 8 (drift): real tenantsync and auth0-sim; the tenant is changed behind tenantsync's back.
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/drift_test.cpp)
  ts_add_test(drift_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/drift_test.cpp
    LIBS ts_test_support SQLiteCpp
    LABELS integration TIMEOUT 120)
  add_dependencies(drift_test tenantsync auth0-sim)
endif()
