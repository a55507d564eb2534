# bench-inbox (issue 13): CPU per event of the inbox's insert (group commit) and settle (writer),
# without HTTP, optionally with extra DDL to price a schema change. Built into
# <build>/bench/bench-inbox. Not a ctest test (docs/BENCHMARKS.md).
add_executable(bench-inbox ${CMAKE_CURRENT_SOURCE_DIR}/inbox_bench.cpp)
ts_target_defaults(bench-inbox)
target_link_libraries(bench-inbox PRIVATE ts_daemon SQLiteCpp CLI11::CLI11)
set_target_properties(bench-inbox PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
