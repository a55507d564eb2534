# bench-reconcile (issue 5): time to converge a burst of HR events into auth0-sim under a rate
# limit, against a lower bound counted from the workload, beside a naive one-request-per-change
# replay. Built into <build>/bench/bench-reconcile; finds <build>/tenantsync and
# <build>/auth0-sim by itself. Not a ctest test (docs/BENCHMARKS.md).
add_executable(bench-reconcile ${CMAKE_CURRENT_SOURCE_DIR}/reconcile_bench.cpp)
ts_target_defaults(bench-reconcile)
target_link_libraries(bench-reconcile PRIVATE ts_test_support ts_adapters nlohmann_json::nlohmann_json
                      CLI11::CLI11 Threads::Threads)
set_target_properties(bench-reconcile PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
add_dependencies(bench-reconcile tenantsync)
if(TARGET auth0-sim)
  add_dependencies(bench-reconcile auth0-sim)
endif()
