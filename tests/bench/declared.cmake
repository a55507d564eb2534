# bench-declared (issue 15): a declared file of N organizations and M users, planned in process
# (parse + diff + cost estimate), then `tenantsync apply --yes --wait` against auth0-sim at
# 40 requests/s; Auth0 requests beside the plan's estimate, the lower bound and the
# Deploy-CLI-style count. Built into <build>/bench/bench-declared. Not a ctest test.
add_executable(bench-declared ${CMAKE_CURRENT_SOURCE_DIR}/declared_bench.cpp)
ts_target_defaults(bench-declared)
target_link_libraries(bench-declared PRIVATE ts_test_support ts_declared nlohmann_json::nlohmann_json
                      CLI11::CLI11 Threads::Threads)
set_target_properties(bench-declared PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
add_dependencies(bench-declared tenantsync)
if(TARGET auth0-sim)
  add_dependencies(bench-declared auth0-sim)
endif()
