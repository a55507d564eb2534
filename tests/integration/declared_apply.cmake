# `tenantsync apply` end to end (issue 15): a real auth0-sim, a real daemon with a declared source,
# the CLI as a subprocess.
ts_add_test(declared_apply_it_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/declared_apply_test.cpp
  LIBS ts_test_support
  LABELS integration TIMEOUT 300)
add_dependencies(declared_apply_it_test tenantsync auth0-sim)
