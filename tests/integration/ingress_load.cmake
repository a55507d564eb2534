# Issue 13: the listeners under hostile and heavy load (slowloris, keep-alive senders, slow admin
# connections), against the real tenantsync binary on loopback.
ts_add_test(ingress_load_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ingress_load_test.cpp
  LIBS ts_test_support ts_adapters
  LABELS integration TIMEOUT 120)
add_dependencies(ingress_load_test tenantsync)
