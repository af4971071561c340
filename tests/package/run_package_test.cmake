# The package test: install the build into a scratch prefix, configure and
# build the consumer in this directory against it, run it.
#   cmake -DWALKIT_BUILD_DIR=<build> -DWORK_DIR=<scratch> -DCXX=<compiler>
#         -DGENERATOR=<generator> [-DMAKE_PROGRAM=<path>] [-DSANITIZE=ON]
#         -P run_package_test.cmake
foreach(var WALKIT_BUILD_DIR WORK_DIR CXX GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_package_test.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run_step)
  string(JOIN " " shown ${ARGN})
  message(STATUS "package test: ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "package test: step failed (${rc}): ${shown}")
  endif()
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/sessions)

run_step(${CMAKE_COMMAND} --install ${WALKIT_BUILD_DIR} --prefix ${prefix})

set(configure_args -S ${CMAKE_CURRENT_LIST_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
  -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix} -DWALKIT_EXPECTED_PREFIX=${prefix})
if(MAKE_PROGRAM)
  list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(SANITIZE)
  # The installed static library was compiled with ASan+UBSan; its users must
  # link the sanitizer runtimes.
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined"
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined")
endif()
run_step(${CMAKE_COMMAND} ${configure_args})
run_step(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run_step(${WORK_DIR}/build/walkit_consumer ${WORK_DIR}/sessions)
