# The writer's decisions (pure planners) and the step executor against the in-memory fake tenant.
ts_add_test(planners_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/planners_test.cpp LIBS ts_planning)
ts_add_test(desired_state_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/desired_state_test.cpp
  LIBS ts_planning)
ts_add_test(executor_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/executor_test.cpp LIBS ts_writer_harness)
ts_add_test(writer_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/writer_test.cpp LIBS ts_writer_harness)
ts_add_test(imports_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/imports_test.cpp LIBS ts_planning
  LABELS unit TIMEOUT 60)
ts_add_test(executor_imports_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/executor_imports_test.cpp
  LIBS ts_writer_harness LABELS unit TIMEOUT 120)
