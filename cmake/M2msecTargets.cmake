# m2msec_warnings(TARGET): the project's warning set; errors unless
# M2MSEC_WERROR is OFF.
function(m2msec_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wcast-align -Wunused -Woverloaded-virtual -Wimplicit-fallthrough
    # GCC 12 reports false -Wrestrict/-Wstringop-overflow on std::string
    # concatenation at -O2/-O3 (GCC bug 105329); they are off for GCC.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict -Wno-stringop-overflow>
    $<$<BOOL:${M2MSEC_WERROR}>:-Werror>)
endfunction()

# m2msec_module(NAME SOURCES ... DEPS ...): one library target per module,
# named m2msec_<NAME> with alias m2msec::<NAME>.
function(m2msec_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(m2msec_${name} STATIC ${M_SOURCES})
  add_library(m2msec::${name} ALIAS m2msec_${name})
  target_include_directories(m2msec_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(m2msec_${name} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  m2msec_warnings(m2msec_${name})
endfunction()

# The throw-away PostgreSQL cluster of a test run (scripts/pg-test-cluster),
# started and stopped by the CTest fixture "postgres" (tests/CMakeLists.txt).
set(M2MSEC_PG_TEST_DIR "${CMAKE_BINARY_DIR}/pg-test")

# m2msec_requires_postgres(TEST ...): the tests need the fixture "postgres"
# and find the cluster through M2MSEC_PG_DIR.
function(m2msec_requires_postgres)
  set_property(TEST ${ARGN} APPEND PROPERTY FIXTURES_REQUIRED postgres)
  set_property(TEST ${ARGN} APPEND PROPERTY ENVIRONMENT "M2MSEC_PG_DIR=${M2MSEC_PG_TEST_DIR}")
endfunction()

# m2msec_gtest(NAME SOURCES ... DEPS ... [PREFIX p] [TIMEOUT s] [POSTGRES]):
# a GoogleTest binary whose tests are registered with CTest as
# "<PREFIX>.<Suite>.<Test>". POSTGRES: its tests need the PostgreSQL test
# cluster (see m2msec_requires_postgres).
function(m2msec_gtest name)
  cmake_parse_arguments(T "POSTGRES" "PREFIX;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set(pg_props)
  if(T_POSTGRES)
    set(pg_props FIXTURES_REQUIRED postgres ENVIRONMENT "M2MSEC_PG_DIR=${M2MSEC_PG_TEST_DIR}")
  endif()
  find_package(GTest REQUIRED)
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    M2MSEC_SOURCE_DIR="${PROJECT_SOURCE_DIR}" M2MSEC_BINARY_DIR="${PROJECT_BINARY_DIR}")
  m2msec_warnings(${name})
  include(GoogleTest)
  gtest_discover_tests(${name} TEST_PREFIX "${T_PREFIX}." DISCOVERY_MODE PRE_TEST
                       PROPERTIES TIMEOUT ${T_TIMEOUT} ${pg_props})
endfunction()
