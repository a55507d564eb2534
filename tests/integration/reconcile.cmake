# Issue 5: reconciliation end to end — real tenantsync and auth0-sim processes over HTTP.
foreach(t reconcile_events_test reconcile_order_test reconcile_chaos_test)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${t}.cpp)
    ts_add_test(${t}
      SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/${t}.cpp
      LIBS ts_test_support SQLiteCpp
      LABELS integration TIMEOUT 300)
    add_dependencies(${t} tenantsync auth0-sim)
  endif()
endforeach()
