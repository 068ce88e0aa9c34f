# Run by cpack (CPACK_PRE_BUILD_SCRIPTS) on the staged tree of the package,
# before it is packed.
#
# The agent's systemd unit names the binary by its full path, which
# contrib/CMakeLists.txt takes from the prefix the build tree was configured
# with (/usr/local by default); the package installs under
# CPACK_PACKAGING_INSTALL_PREFIX (/usr) instead. Its copy of the unit is
# configured again here with the binary's directory in the package.
set(DBR_INSTALL_BINDIR "${CPACK_DBR_PACKAGED_BINDIR}")
configure_file("${CPACK_DBR_UNIT_SOURCE}"
  "${CPACK_TEMPORARY_DIRECTORY}${CPACK_DBR_UNIT}" @ONLY
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
