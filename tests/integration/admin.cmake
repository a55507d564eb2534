# The operator surface (SPEC §7, issue 6): the admin API and the CLI, each through the real
# tenantsync binary over HTTP, with a real auth0-sim where the writer has to act.
ts_add_test(admin_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/admin_test.cpp
  LIBS ts_test_support SQLiteCpp
  LABELS integration TIMEOUT 300)
add_dependencies(admin_test tenantsync auth0-sim)
ts_add_test(cli_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/cli_test.cpp
  LIBS ts_test_support SQLiteCpp
  LABELS integration TIMEOUT 300)
add_dependencies(cli_test tenantsync auth0-sim)
