# The destructive-change guard end to end (SPEC §6): a real tenantsync against a real auth0-sim.
ts_add_test(guard_e2e_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/guard_e2e_test.cpp
  LIBS ts_test_support SQLiteCpp
  LABELS integration TIMEOUT 300)
add_dependencies(guard_e2e_test tenantsync auth0-sim)
