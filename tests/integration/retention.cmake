# Retention through the real daemon (issue 17): compaction at start-up, replay of a compacted
# event, dedup after compaction, status and metrics.
ts_add_test(retention_integration_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/retention_test.cpp
  LIBS ts_test_support SQLiteCpp
  LABELS integration TIMEOUT 120)
add_dependencies(retention_integration_test tenantsync)
