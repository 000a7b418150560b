# m2msec_warnings(TARGET): the project's warning set; errors unless
# M2MSEC_WERROR is OFF.
function(m2msec_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wcast-align -Wunused -Woverloaded-virtual -Wimplicit-fallthrough
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
