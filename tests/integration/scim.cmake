# Issue 18: the SCIM 2.0 service provider end to end (real tenantsync + auth0-sim), with the
# answers validated by npm scimmy (installed by the test into a temp directory; skipped when npm
# cannot reach its registry).
ts_add_test(scim_e2e_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/scim_test.cpp
  LIBS ts_test_support SQLiteCpp SQLite::SQLite3
  LABELS integration TIMEOUT 120)
target_compile_definitions(scim_e2e_test PRIVATE
  SCIM_CONFORMANCE_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/scim_conformance.mjs")
add_dependencies(scim_e2e_test tenantsync auth0-sim)
