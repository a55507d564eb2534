# Issue 18: vendor connectors end to end with real processes (vendor-sim + `tenantsync mapping
# test --fetch`), and deliveries through a real daemon into auth0-sim; docs/CONNECTORS.md.
ts_add_test(vendors_e2e_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/vendors_test.cpp
  LIBS ts_test_support PkgConfig::HTTPLIB nlohmann_json::nlohmann_json SQLiteCpp SQLite::SQLite3
  LABELS integration TIMEOUT 120)
add_dependencies(vendors_e2e_test tenantsync vendor-sim auth0-sim)
