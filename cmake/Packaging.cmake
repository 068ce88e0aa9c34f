# The licence and the Debian package (cpack -G DEB).
#
# Dependencies come from dpkg-shlibdeps (every linked library of the binary,
# libdbroker and the plugins), plus libcurl, which libdbroker loads with
# dlopen() on first use and so does not link.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR}
        RENAME copyright)
# Debian wants the changelog compressed, without a timestamp (gzip -n)
set(DBR_CHANGELOG_GZ ${CMAKE_BINARY_DIR}/changelog.gz)
add_custom_command(OUTPUT ${DBR_CHANGELOG_GZ}
  COMMAND sh -c "gzip -9n < '${PROJECT_SOURCE_DIR}/contrib/debian/changelog' > '${DBR_CHANGELOG_GZ}'"
  DEPENDS ${PROJECT_SOURCE_DIR}/contrib/debian/changelog VERBATIM)
add_custom_target(dbroker_changelog ALL DEPENDS ${DBR_CHANGELOG_GZ})
install(FILES ${DBR_CHANGELOG_GZ} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# the shared library's shlibs entry and an ldconfig trigger (rather than
# maintainer scripts that run ldconfig)
file(WRITE ${CMAKE_BINARY_DIR}/debian/shlibs
     "libdbroker ${PROJECT_VERSION_MAJOR} dbroker (>= ${PROJECT_VERSION})\n")
# ... and maintainer scripts of our own, so that CPack adds none that run
# ldconfig on the installing machine (lintian is told they are empty on
# purpose)
install(FILES ${PROJECT_SOURCE_DIR}/contrib/debian/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME dbroker)
foreach(f triggers postinst postrm)
  configure_file(${PROJECT_SOURCE_DIR}/contrib/debian/${f} ${CMAKE_BINARY_DIR}/debian/${f}
                 COPYONLY)
endforeach()

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "dbroker")
set(CPACK_PACKAGE_VENDOR "dbroker")
set(CPACK_PACKAGE_CONTACT "dbroker maintainers <dbroker@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
"dbroker resolves a Databricks personal access token from the environment,
HashiCorp Vault, the Secret Service keyring or the kernel keyring, keeps it
off disk, out of argv and out of every log line, and signs REST calls
(clusters, jobs, any API path) with it.")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/dbroker")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# the plugins and libdbroker live in the package itself
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS
    "${CMAKE_BINARY_DIR}/${CMAKE_INSTALL_LIBDIR}")
# libcurl and libcrypto are dlopen()ed (curl_lazy.c, crypto_lazy.c):
# dpkg-shlibdeps does not see them
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libcurl4 (>= 7.68), libssl3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "gnome-keyring, keyutils")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_BINARY_DIR}/debian/shlibs;${CMAKE_BINARY_DIR}/debian/triggers"
    "${CMAKE_BINARY_DIR}/debian/postinst;${CMAKE_BINARY_DIR}/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
# the agent's unit names the binary in the package's prefix, not in the one
# configured here (cmake/DebStaging.cmake)
# an install directory as the package lays it out (absolute, or under the
# package's prefix)
function(dbr_packaged_dir out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CPACK_PACKAGING_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
dbr_packaged_dir(CPACK_DBR_PACKAGED_BINDIR "${CMAKE_INSTALL_BINDIR}")
set(CPACK_DBR_UNIT_SOURCE "${PROJECT_SOURCE_DIR}/contrib/systemd/dbroker-agent.service")
dbr_packaged_dir(unit_dir "${DBR_SYSTEMD_USER_DIR}")
set(CPACK_DBR_UNIT "${unit_dir}/dbroker-agent.service")
set(CPACK_PRE_BUILD_SCRIPTS "${PROJECT_SOURCE_DIR}/cmake/DebStaging.cmake")
include(CPack)
