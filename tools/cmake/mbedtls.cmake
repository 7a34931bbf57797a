# Builds Mbed TLS from the Debian source package that tools/deps unpacked, with a
# board's own configuration header. Every board gets its own copy of the library.
set(PIGEON_MBEDTLS_DIR "${PIGEON_THIRD_PARTY}/mbedtls-3.6.6")
if(NOT EXISTS "${PIGEON_MBEDTLS_DIR}/library/ssl_tls.c")
  message(FATAL_ERROR "Mbed TLS sources missing in ${PIGEON_MBEDTLS_DIR}: run tools/deps")
endif()

# pigeon_add_mbedtls(<target> <config header>): the board's header includes
# boards/pigeon_mbedtls_common.h, what every board's build holds.
function(pigeon_add_mbedtls target config_header)
  file(GLOB sources CONFIGURE_DEPENDS "${PIGEON_MBEDTLS_DIR}/library/*.c")
  # Project Everest's X25519 (MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED, host board
  # only): these files compile to nothing in a configuration without it.
  set(everest "${PIGEON_MBEDTLS_DIR}/3rdparty/everest")
  list(APPEND sources "${everest}/library/everest.c" "${everest}/library/x25519.c"
       "${everest}/library/Hacl_Curve25519_joined.c")
  add_library(${target} STATIC ${sources})
  get_filename_component(config_dir "${config_header}" DIRECTORY)
  get_filename_component(config_name "${config_header}" NAME)
  target_include_directories(${target} SYSTEM PUBLIC
    "${PIGEON_MBEDTLS_DIR}/include" "${everest}/include" "${config_dir}" "${CMAKE_SOURCE_DIR}/boards")
  target_include_directories(${target} PRIVATE "${PIGEON_MBEDTLS_DIR}/library"
    "${everest}/include/everest" "${everest}/include/everest/kremlib")
  target_compile_definitions(${target} PUBLIC "MBEDTLS_CONFIG_FILE=\"${config_name}\"")
  target_compile_options(${target} PRIVATE -w)
endfunction()
