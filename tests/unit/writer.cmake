# The writer's decisions (pure planners) and the step executor against the in-memory fake tenant.
ts_add_test(planners_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/planners_test.cpp LIBS ts_planning)
ts_add_test(executor_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/executor_test.cpp LIBS ts_writer_harness)
ts_add_test(writer_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/writer_test.cpp LIBS ts_writer_harness)
