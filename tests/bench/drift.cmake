# bench-drift (SPEC §6 "Drift"): one drift pass (mode report) over a large tenant with no
# differences: Management API requests by endpoint against the minimum the pagination rules
# allow, wall time, differences (must be 0) and the daemon's peak memory. Built into
# <build>/bench/bench-drift; finds <build>/tenantsync and <build>/auth0-sim by itself. Not a ctest
# test (docs/BENCHMARKS.md).
add_executable(bench-drift ${CMAKE_CURRENT_SOURCE_DIR}/drift_bench.cpp)
ts_target_defaults(bench-drift)
target_link_libraries(bench-drift PRIVATE ts_test_support ts_adapters nlohmann_json::nlohmann_json
                      CLI11::CLI11 Threads::Threads)
set_target_properties(bench-drift PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
add_dependencies(bench-drift tenantsync)
if(TARGET auth0-sim)
  add_dependencies(bench-drift auth0-sim)
endif()
