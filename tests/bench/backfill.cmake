# bench-backfill (issue 17): day one at scale -- 20,000 employees in 500 organizations (--full:
# 100,000 in 2,000) delivered as signed webhooks, converged into auth0-sim at 16 requests/s through
# users-imports jobs; time, Auth0 requests by endpoint beside the one-create-per-user bound and a
# one-request-per-object tool, daemon peak RSS, status and user-lookup latency. Built into
# <build>/bench/bench-backfill; finds <build>/tenantsync and <build>/auth0-sim by itself. Not a
# ctest test (docs/BENCHMARKS.md).
add_executable(bench-backfill ${CMAKE_CURRENT_SOURCE_DIR}/backfill_bench.cpp)
ts_target_defaults(bench-backfill)
target_link_libraries(bench-backfill PRIVATE ts_test_support ts_adapters nlohmann_json::nlohmann_json
                      CLI11::CLI11 Threads::Threads)
set_target_properties(bench-backfill PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
add_dependencies(bench-backfill tenantsync)
if(TARGET auth0-sim)
  add_dependencies(bench-backfill auth0-sim)
endif()
