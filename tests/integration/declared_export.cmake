# `tenantsync export` end to end (issue 15 item 5): export → apply --plan shows no change, export
# --output, byte-stable exports, and the Auth0 Deploy CLI layout read by apply and written by
# export --format deploy-cli. A real auth0-sim, a real daemon, the CLI as a subprocess.
ts_add_test(declared_export_it_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/declared_export_test.cpp
  LIBS ts_test_support
  LABELS integration TIMEOUT 300)
add_dependencies(declared_export_it_test tenantsync auth0-sim)
