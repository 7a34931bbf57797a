# Builds Mbed TLS from the Debian source package that tools/deps unpacked, with a
# board's own configuration header. Every board gets its own copy of the library.
set(PIGEON_MBEDTLS_DIR "${PIGEON_THIRD_PARTY}/mbedtls-3.6.6")
if(NOT EXISTS "${PIGEON_MBEDTLS_DIR}/library/ssl_tls.c")
  message(FATAL_ERROR "Mbed TLS sources missing in ${PIGEON_MBEDTLS_DIR}: run tools/deps")
endif()

# pigeon_generate_psa_dispatch(<target> <driver JSON> <driver source> <sources
# variable> <directory variable>): generates psa_crypto_driver_wrappers.h and
# psa_crypto_driver_wrappers_no_static.c for Mbed TLS's drivers and this one into
# the build folder, and swaps them into the sources. psa_crypto.c includes the
# header with quotes, which look beside the including file first: it is
# compiled from a copy beside the generated header.
function(pigeon_generate_psa_dispatch target driver_json driver_source sources_var dir_var)
  find_program(PIGEON_MBEDTLS_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH REQUIRED)
  set(shipped "${PIGEON_MBEDTLS_DIR}/scripts/data_files/driver_jsons")
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${target}_psa_dispatch")
  file(GLOB shipped_jsons "${shipped}/*.json")
  file(COPY ${shipped_jsons} ${driver_json} DESTINATION "${dir}/json")
  get_filename_component(driver_json_name "${driver_json}" NAME)
  file(READ "${shipped}/driverlist.json" driver_list)
  string(REGEX REPLACE "][ \t\r\n]*$" ",\"${driver_json_name}\"]\n" driver_list "${driver_list}")
  file(WRITE "${dir}/json/driverlist.json" "${driver_list}")
  configure_file("${PIGEON_MBEDTLS_DIR}/library/psa_crypto.c" "${dir}/psa_crypto.c" COPYONLY)
  file(GLOB templates "${PIGEON_MBEDTLS_DIR}/scripts/data_files/driver_templates/*.jinja")
  add_custom_command(
    OUTPUT "${dir}/psa_crypto_driver_wrappers.h" "${dir}/psa_crypto_driver_wrappers_no_static.c"
    COMMAND ${PIGEON_MBEDTLS_PYTHON} "${PIGEON_MBEDTLS_DIR}/scripts/generate_driver_wrappers.py"
            --project-root "${PIGEON_MBEDTLS_DIR}" --json-dir "${dir}/json" "${dir}"
    DEPENDS "${dir}/json/driverlist.json" "${driver_json}" ${templates}
    COMMENT "Mbed TLS PSA driver dispatch for ${target}")
  set(sources ${${sources_var}})
  list(REMOVE_ITEM sources "${PIGEON_MBEDTLS_DIR}/library/psa_crypto.c"
                           "${PIGEON_MBEDTLS_DIR}/library/psa_crypto_driver_wrappers_no_static.c")
  list(APPEND sources "${dir}/psa_crypto.c" "${dir}/psa_crypto_driver_wrappers_no_static.c"
                      "${dir}/psa_crypto_driver_wrappers.h" "${driver_source}")
  set(${sources_var} ${sources} PARENT_SCOPE)
  set(${dir_var} "${dir}" PARENT_SCOPE)
endfunction()

# pigeon_add_mbedtls(<target> <config header> [PSA_DRIVER <JSON> <source>]): the
# board's header includes boards/pigeon_mbedtls_common.h, what every board's
# build holds. PSA_DRIVER adds a transparent PSA driver (Mbed TLS's
# docs/psa-driver-example-and-guide.md): its JSON description joins the drivers
# Mbed TLS ships, and Mbed TLS's own generator writes the dispatch code again.
function(pigeon_add_mbedtls target config_header)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "PSA_DRIVER")
  file(GLOB sources CONFIGURE_DEPENDS "${PIGEON_MBEDTLS_DIR}/library/*.c")
  if(arg_PSA_DRIVER)
    pigeon_generate_psa_dispatch(${target} ${arg_PSA_DRIVER} sources dispatch_dir)
  endif()
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
  target_include_directories(${target} PRIVATE ${dispatch_dir} "${PIGEON_MBEDTLS_DIR}/library"
    "${everest}/include/everest" "${everest}/include/everest/kremlib")
  target_compile_definitions(${target} PUBLIC "MBEDTLS_CONFIG_FILE=\"${config_name}\"")
  target_compile_options(${target} PRIVATE -w)
endfunction()
