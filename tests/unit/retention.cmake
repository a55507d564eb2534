# Retention (issue 17): cutoffs, compaction passes on a fake clock, and the query plans of the
# hot storage statements at scale.
ts_add_test(retention_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/retention_test.cpp
            LIBS ts_daemon ts_test_support SQLiteCpp)
ts_add_test(query_plans_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/query_plans_test.cpp
            LIBS ts_storage ts_test_support SQLiteCpp)
