# Scoped admin tokens, the events endpoint and the console's cookie session (issue 16), through
# the real tenantsync binary with a real auth0-sim.
ts_add_test(admin_roles_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/admin_roles_test.cpp
  LIBS ts_test_support ts_common
  LABELS integration TIMEOUT 180)
add_dependencies(admin_roles_test tenantsync auth0-sim)
