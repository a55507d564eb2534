# bench-store (issue 17): storage queries, the plan's snapshot read and one compaction pass at
# 100,000 users, with the process's peak RSS. Built into <build>/bench/bench-store. Not a ctest
# test (docs/BENCHMARKS.md).
add_executable(bench-store ${CMAKE_CURRENT_SOURCE_DIR}/store_bench.cpp)
ts_target_defaults(bench-store)
target_link_libraries(bench-store PRIVATE ts_daemon ts_test_support SQLiteCpp CLI11::CLI11)
set_target_properties(bench-store PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
