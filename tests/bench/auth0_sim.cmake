# bench-auth0-sim: requests/s that auth0-sim serves on loopback (not a ctest test; run by hand).
add_executable(bench-auth0-sim ${CMAKE_CURRENT_LIST_DIR}/auth0_sim_bench.cpp)
ts_target_defaults(bench-auth0-sim)
target_link_libraries(bench-auth0-sim PRIVATE ts_test_support PkgConfig::HTTPLIB
  nlohmann_json::nlohmann_json CLI11::CLI11 Threads::Threads)
set_target_properties(bench-auth0-sim PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
add_dependencies(bench-auth0-sim auth0-sim)
