# odrgw_embed(TARGET <lib> NAMESPACE <ns> BASE_DIR <dir> FILES <f>...)
# Compiles the files into <lib> as a sorted table of {relative path, bytes}, so the binary carries
# its schemas and needs no data directory at run time. Regenerated whenever a file changes.
set(ODRGW_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/odrgw_embed_gen.cmake)

function(odrgw_embed)
  cmake_parse_arguments(E "" "TARGET;NAMESPACE;BASE_DIR" "FILES" ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${E_TARGET}_embedded.cpp)
  set(list_file ${CMAKE_CURRENT_BINARY_DIR}/${E_TARGET}_embedded.list)
  list(SORT E_FILES)
  set(rel_files "")
  foreach(f IN LISTS E_FILES)
    file(RELATIVE_PATH rel ${E_BASE_DIR} ${f})
    list(APPEND rel_files ${rel})
  endforeach()
  string(REPLACE ";" "\n" list_content "${rel_files}")
  file(GENERATE OUTPUT ${list_file} CONTENT "${list_content}\n")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DLIST=${list_file} -DBASE=${E_BASE_DIR}
            -DNS=${E_NAMESPACE} -P ${ODRGW_EMBED_SCRIPT}
    DEPENDS ${E_FILES} ${ODRGW_EMBED_SCRIPT} ${list_file}
    COMMENT "Embedding ${E_NAMESPACE} files"
    VERBATIM)
  add_library(${E_TARGET} STATIC ${out})
  target_link_libraries(${E_TARGET} PUBLIC odrgw_embed_api)
endfunction()
