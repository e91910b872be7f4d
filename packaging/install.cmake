# `cmake --install build [--prefix P]`: the binary, the plugins, the man page, the systemd
# unit and the example configuration (no key or certificate: those are the operator's).
#
#   bin/tlsgate
#   lib/tlsgate/plugins/*.so                (plugins/CMakeLists.txt)
#   share/man/man8/tlsgate.8                (from docs/tlsgate.8.scd, with scdoc)
#   share/doc/tlsgate/examples/             tlsgate.yaml, ssl_multicert.config, sni.yaml
#   <sysconfdir>/tlsgate/                   the same examples, to edit in place
#   lib/systemd/system/tlsgate.service      with the installed paths filled in
include(GNUInstallDirs)

install(TARGETS tlsgate RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(TLSGATE_EXAMPLES
  ${PROJECT_SOURCE_DIR}/packaging/examples/tlsgate.yaml
  ${PROJECT_SOURCE_DIR}/packaging/examples/ssl_multicert.config
  ${PROJECT_SOURCE_DIR}/packaging/examples/sni.yaml)
install(FILES ${TLSGATE_EXAMPLES} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${TLSGATE_EXAMPLES} DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/tlsgate)

find_program(SCDOC scdoc)
if(SCDOC)
  set(TLSGATE_MAN ${CMAKE_CURRENT_BINARY_DIR}/tlsgate.8)
  add_custom_command(OUTPUT ${TLSGATE_MAN}
    COMMAND ${SCDOC} < ${PROJECT_SOURCE_DIR}/docs/tlsgate.8.scd > ${TLSGATE_MAN}
    DEPENDS ${PROJECT_SOURCE_DIR}/docs/tlsgate.8.scd
    COMMENT "scdoc: tlsgate.8" VERBATIM)
  add_custom_target(tlsgate_man ALL DEPENDS ${TLSGATE_MAN})
  install(FILES ${TLSGATE_MAN} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
else()
  message(STATUS "scdoc not found: the man page tlsgate(8) is not built (scripts/install-deps.sh)")
endif()

# The unit names the installed binary and configuration, so it is written at install time,
# when the prefix given to `cmake --install --prefix` is known.
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  set(TLSGATE_BINARY \"\${prefix}/${CMAKE_INSTALL_BINDIR}/tlsgate\")
  if(IS_ABSOLUTE \"${CMAKE_INSTALL_SYSCONFDIR}\")
    set(TLSGATE_CONFIG_DIR \"${CMAKE_INSTALL_SYSCONFDIR}/tlsgate\")
  else()
    set(TLSGATE_CONFIG_DIR \"\${prefix}/${CMAKE_INSTALL_SYSCONFDIR}/tlsgate\")
  endif()
  configure_file(\"${PROJECT_SOURCE_DIR}/packaging/tlsgate.service.in\"
                 \"${CMAKE_CURRENT_BINARY_DIR}/tlsgate.service\" @ONLY)
  file(INSTALL \"${CMAKE_CURRENT_BINARY_DIR}/tlsgate.service\"
       DESTINATION \"\${prefix}/lib/systemd/system\")
")
