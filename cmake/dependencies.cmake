# Every dependency comes from Debian's packages. A missing one stops configuration
# with the package to install.
set(LLMK_DEBIAN_PACKAGES
    "cmake ninja-build g++ libgtest-dev libgmock-dev libbenchmark-dev libeigen3-dev libfmt-dev libabsl-dev nlohmann-json3-dev libssl-dev libutf8proc-dev python3-numpy fortunes ccache")

function(llmk_require_package name debian_package)
  find_package(${name} ${ARGN} QUIET)
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR
      "${name} was not found. Install the Debian package ${debian_package}:\n"
      "  sudo apt-get install -y ${debian_package}\n"
      "or everything this repository needs at once:\n"
      "  sudo apt-get install -y ${LLMK_DEBIAN_PACKAGES}")
  endif()
endfunction()

llmk_require_package(GTest libgtest-dev)
llmk_require_package(benchmark libbenchmark-dev)
llmk_require_package(Eigen3 libeigen3-dev 3.4 NO_MODULE)  # 3.4 or newer
llmk_require_package(fmt libfmt-dev)
llmk_require_package(absl libabsl-dev)
llmk_require_package(nlohmann_json nlohmann-json3-dev)
llmk_require_package(OpenSSL libssl-dev COMPONENTS Crypto)  # SHA-256 of the published files

# utf8proc (the Unicode categories of 01_bpe's character classes) has no CMake package.
find_path(LLMK_UTF8PROC_INCLUDE utf8proc.h)
find_library(LLMK_UTF8PROC_LIBRARY utf8proc)
if(NOT LLMK_UTF8PROC_INCLUDE OR NOT LLMK_UTF8PROC_LIBRARY)
  message(FATAL_ERROR
    "utf8proc was not found. Install the Debian package libutf8proc-dev:\n"
    "  sudo apt-get install -y libutf8proc-dev\n"
    "or everything this repository needs at once:\n"
    "  sudo apt-get install -y ${LLMK_DEBIAN_PACKAGES}")
endif()
add_library(llmk_utf8proc INTERFACE)
target_include_directories(llmk_utf8proc SYSTEM INTERFACE ${LLMK_UTF8PROC_INCLUDE})
target_link_libraries(llmk_utf8proc INTERFACE ${LLMK_UTF8PROC_LIBRARY})

# The independent recomputation of fixtures uses Debian's python3 with numpy.
find_program(LLMK_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT LLMK_PYTHON)
  find_program(LLMK_PYTHON NAMES python3)
endif()
set(LLMK_HAVE_NUMPY OFF)
if(LLMK_PYTHON)
  execute_process(COMMAND ${LLMK_PYTHON} -c "import numpy"
                  RESULT_VARIABLE numpy_result OUTPUT_QUIET ERROR_QUIET)
  if(numpy_result EQUAL 0)
    set(LLMK_HAVE_NUMPY ON)
  endif()
endif()
if(NOT LLMK_HAVE_NUMPY)
  message(WARNING "python3 with numpy not found (Debian package python3-numpy): "
                  "the fixture recomputation tests are not registered")
endif()
