# Users imports end to end (issue 17): tenantsync against auth0-sim, including a SIGKILL while
# the simulator holds the import job pending.
ts_add_test(users_import_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/users_import_test.cpp
  LIBS ts_test_support ts_planning
  LABELS integration TIMEOUT 300)
add_dependencies(users_import_test tenantsync auth0-sim)
