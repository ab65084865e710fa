# llmk_kata(): declares a kata once and produces both builds of its tests.
#
#   llmk_kata(NAME 02_attention
#             SOURCES attention.cc          # in katas/NAME/ (stubs) and solutions/NAME/
#             SOLUTION_ONLY_SOURCES ...     # extra files only the solution has
#             AVX2_SOURCES ...              # solution-only files compiled with -mavx2 -mfma
#             TESTS attention_test.cc       # in katas/NAME/, built once, linked twice
#             BENCHMARKS attention_bench.cc # optional, in katas/NAME/, built once, linked twice
#             LIBS llmk_reference           # what tests and benchmarks link besides
#             IMPL_LIBS absl::status        # what both implementations link besides llmk_core
#             TEST_LINK_OPTIONS ...)        # link options of both test executables
#
# Targets:
#   NAME_test            tests linked with the learner's katas/NAME/*.cc   (label: learner)
#   NAME_solution_test   the same tests linked with solutions/NAME/*.cc    (label: solution)
#   NAME_bench, NAME_solution_bench   where BENCHMARKS are given
# A learner's copy (`kata export`) has no solutions/NAME: only the learner's targets exist.
# Tests are registered with CTest, labelled with the kata, the step (stepN, from the
# suite name StepN_...) and the variant.

set(LLMK_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                  -Wno-unused-parameter)
# GCC 12 reports -Wmaybe-uninitialized inside Eigen's symmetric eigensolver (its
# tridiagonalization's matrix-vector products) on code that is correct; with warnings as
# errors a learner who calls Eigen::SelfAdjointEigenSolver (kata 14) could not build.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND LLMK_WARNINGS -Wno-maybe-uninitialized)
endif()
if(LLMK_WERROR)
  list(APPEND LLMK_WARNINGS -Werror)
endif()

# The sanitizer build (preset "sanitize"): AddressSanitizer (with LeakSanitizer) and
# UndefinedBehaviorSanitizer on every target, any report fatal. -O1, not Debug's -O0 (at
# which Eigen's templates run far slower), keeps the heavy tests (09, 06, 01) quick, and its
# reports still name the right lines (line tables, -g1; the learner's kata sources get -g);
# the frame pointer gives full stacks; _GLIBCXX_ASSERTIONS checks std::vector::operator[]
# and friends, which ASan cannot see inside a vector's capacity. Eigen's asserts stay on
# (no NDEBUG). AVX2 sources keep their -mavx2 -mfma on top of these flags.
if(LLMK_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer -O1 -g1 -D_GLIBCXX_ASSERTIONS)
  add_link_options(-fsanitize=address,undefined)
  # The same defaults for every kata test however it is started (harness/support).
  add_library(llmk_sanitizer_options OBJECT
              ${CMAKE_CURRENT_LIST_DIR}/../harness/support/sanitizer_options.cc)
  target_compile_options(llmk_sanitizer_options PRIVATE ${LLMK_WARNINGS})
  # What CTest gives every test: stop at the first report, with a stack, and check leaks.
  set(LLMK_SANITIZER_ENV
      "ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1"
      "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
endif()

# Optimized but with assertions on (Eigen's bounds checks catch a learner's slip). Line
# tables only (-g1: backtraces, breakpoints by line, sanitizer reports with file:line) for
# everything but the learner's own kata sources, which get full debug information (-g, see
# llmk_kata) so that a debugger shows their variables. Full -g everywhere costs a third more
# compile time, most of it in the test objects' Eigen and GoogleTest templates.
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O2 -g1")

# The compiler cache (Debian package ccache; ./kata installs it): a rebuild of what was
# already compiled once, in this tree or in a copy of it (a handout the selftest grades,
# another build directory), costs a cache lookup. Paths under the source directory are
# rewritten relative to the build directory (CCACHE_BASEDIR), and the build directory is
# not hashed (CCACHE_NOHASHDIR), so two copies of the tree share their objects when their
# build directories sit at the same depth (build/, build-ci/). -DLLMK_CCACHE=OFF turns it off.
option(LLMK_CCACHE "Compile through ccache when it is installed" ON)
if(LLMK_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(LLMK_CCACHE_PROGRAM ccache)
  if(LLMK_CCACHE_PROGRAM)
    # The sloppiness lets ccache cache what uses the learner's precompiled header (below).
    set(CMAKE_CXX_COMPILER_LAUNCHER
        ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${CMAKE_SOURCE_DIR} CCACHE_NOHASHDIR=1
        CCACHE_SLOPPINESS=pch_defines,time_macros ${LLMK_CCACHE_PROGRAM})
  else()
    message(STATUS "ccache not found (Debian package ccache): every build compiles from scratch")
  endif()
endif()

# Unity builds for the many small translation units that all include the same heavy headers
# (the harness: nlohmann/json, fmt, abseil): their sources are compiled a batch at a time,
# so the headers are parsed once per batch. -DLLMK_UNITY=OFF compiles them one by one.
option(LLMK_UNITY "Compile the harness and its tests as unity batches" ON)
function(llmk_unity target batch_size)
  if(LLMK_UNITY)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE ${batch_size})
  endif()
endfunction()

set_property(GLOBAL PROPERTY LLMK_KATAS "")

function(llmk_apply_warnings target)
  target_compile_options(${target} PRIVATE ${LLMK_WARNINGS})
endfunction()

# Test code (the GoogleTest sources of the katas and of the harness) is compiled with -Og
# in the optimized and the sanitizer builds: its cost is the compiler's, not the run's. A test translation unit
# is mostly GoogleTest and Eigen templates, and -O2 spends more than half of its compile time
# optimizing them (optimizers_test.cc: 34.6 s at -O2, 16.2 s at -Og), while all of the tests
# of a kata run in well under a second either way. What the tests call (stubs, solutions,
# reference oracles, the test-support library but for the two files below) keeps the build
# type's flags, and so do the benchmarks. -DLLMK_TEST_OPTIMIZE= (empty) compiles tests like everything else.
set(LLMK_TEST_OPTIMIZE "-Og" CACHE STRING "Optimization flag of test code in optimized builds")
# The harness (`kata`) is compiled the same way: it starts processes and reads their JSON,
# and its two unity batches are the first thing a new clone compiles before the board shows.
# So are the two files of the test-support library that are all templates and whose run
# time nobody measures (fixture.cc, the JSON loader; linalg.cc, Eigen's SVD and QR on the
# tests' small matrices): llmk_test_code_sources().
function(llmk_test_optimize_enabled out)
  if(LLMK_TEST_OPTIMIZE AND (LLMK_SANITIZE OR CMAKE_BUILD_TYPE MATCHES "^(RelWithDebInfo|Release)$"))
    set(${out} ON PARENT_SCOPE)
  else()
    set(${out} OFF PARENT_SCOPE)
  endif()
endfunction()
function(llmk_test_code target)
  llmk_test_optimize_enabled(enabled)
  if(enabled)
    target_compile_options(${target} PRIVATE ${LLMK_TEST_OPTIMIZE})
  endif()
endfunction()
function(llmk_test_code_sources)
  llmk_test_optimize_enabled(enabled)
  if(enabled)
    set_property(SOURCE ${ARGN} APPEND PROPERTY COMPILE_OPTIONS ${LLMK_TEST_OPTIMIZE})
  endif()
endfunction()

# gold (binutils, installed with g++) links a learner's test binary in about half the time
# of the default linker.
find_program(LLMK_LD_GOLD ld.gold)
if(LLMK_LD_GOLD AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND NOT LLMK_SANITIZE)
  set(LLMK_GOLD ON)
else()
  set(LLMK_GOLD OFF)
endif()

# One precompiled header for every learner kata library: Eigen and llmk/core.h are most of
# what a stub's compile costs (about 1.7 s of a 2 s compile; with the header, 0.6 s), and
# the learner recompiles one such file at every `kata test`. The AVX2 sources (other -m
# flags) compile without it.
# The learner's sources through ccache too: for the copies of the tree that the selftest
# grades (their stubs are the main build's, byte for byte) and for CI (preset "ci"), which
# fills the cache for them. Off for a learner, whose every compile of a stub is a new edit.
option(LLMK_CCACHE_LEARNER "Compile the learner's kata sources through ccache as well" OFF)

function(llmk_learner_pch)
  if(TARGET llmk_learner_pch)
    return()
  endif()
  set(source ${CMAKE_BINARY_DIR}/llmk_learner_pch.cc)
  if(NOT EXISTS ${source})
    file(WRITE ${source} "// The translation unit that builds the learner katas' precompiled header.\n")
  endif()
  add_library(llmk_learner_pch OBJECT ${source})
  target_link_libraries(llmk_learner_pch PRIVATE llmk_core)
  target_compile_options(llmk_learner_pch PRIVATE -g)
  llmk_apply_warnings(llmk_learner_pch)
  # <llmk/core.h>, not its absolute path: the generated header is then the same in every
  # copy of the tree, and so is everything compiled with it (ccache, below).
  target_precompile_headers(llmk_learner_pch PRIVATE <Eigen/Core> <string> <vector>
                            <llmk/core.h>)
endfunction()

function(llmk_kata)
  cmake_parse_arguments(
    K "" "NAME"
    "SOURCES;SOLUTION_ONLY_SOURCES;AVX2_SOURCES;TESTS;BENCHMARKS;LIBS;IMPL_LIBS;TEST_LINK_OPTIONS"
    ${ARGN})
  if(NOT K_NAME)
    message(FATAL_ERROR "llmk_kata: NAME is required")
  endif()
  set(kata_dir ${CMAKE_SOURCE_DIR}/katas/${K_NAME})
  set(solution_dir ${CMAKE_SOURCE_DIR}/solutions/${K_NAME})
  set(meta ${kata_dir}/kata.json)
  if(NOT EXISTS ${meta})
    message(FATAL_ERROR "llmk_kata(${K_NAME}): ${meta} is missing")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${meta})
  set(variants learner)
  if(EXISTS ${solution_dir})
    list(APPEND variants solution)
  endif()

  # The learner's implementation and the solution, as two libraries of one header.
  set(stub_files "")
  set(solution_files "")
  foreach(src IN LISTS K_SOURCES)
    list(APPEND stub_files ${kata_dir}/${src})
    list(APPEND solution_files ${solution_dir}/${src})
  endforeach()
  foreach(src IN LISTS K_SOLUTION_ONLY_SOURCES K_AVX2_SOURCES)
    list(APPEND solution_files ${solution_dir}/${src})
    # A learner who adds the same file (or a copy of solutions/ over the stubs) builds it too.
    if(EXISTS ${kata_dir}/${src})
      list(APPEND stub_files ${kata_dir}/${src})
    endif()
  endforeach()
  foreach(src IN LISTS K_AVX2_SOURCES)
    set_source_files_properties(${solution_dir}/${src} ${kata_dir}/${src}
                                PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma"
                                           SKIP_PRECOMPILE_HEADERS ON)
  endforeach()
  add_library(${K_NAME}_kata STATIC ${stub_files})
  set(impls ${K_NAME}_kata)
  if("solution" IN_LIST variants)
    add_library(${K_NAME}_solution STATIC ${solution_files})
    list(APPEND impls ${K_NAME}_solution)
  endif()
  foreach(lib IN LISTS impls)
    target_include_directories(${lib} PUBLIC ${kata_dir})
    target_link_libraries(${lib} PUBLIC llmk_core ${K_IMPL_LIBS})
    llmk_apply_warnings(${lib})
  endforeach()
  # Full debug information for the learner's own sources (the rest has line tables only).
  target_compile_options(${K_NAME}_kata PRIVATE -g)
  llmk_learner_pch()
  target_precompile_headers(${K_NAME}_kata REUSE_FROM llmk_learner_pch)
  # Not through ccache (unless LLMK_CCACHE_LEARNER): every learner compile is a new edit, a
  # miss, and a miss that hashes the precompiled header costs a quarter of a second more
  # than the compile alone.
  if(NOT LLMK_CCACHE_LEARNER)
    set_target_properties(${K_NAME}_kata PROPERTIES CXX_COMPILER_LAUNCHER "")
  endif()

  # Test sources are compiled once and linked against each variant.
  add_library(${K_NAME}_tests OBJECT ${K_TESTS})
  target_include_directories(${K_NAME}_tests PRIVATE ${kata_dir})
  target_link_libraries(${K_NAME}_tests PUBLIC llmk_testing ${K_LIBS})
  llmk_apply_warnings(${K_NAME}_tests)
  llmk_test_code(${K_NAME}_tests)


  foreach(variant IN LISTS variants)
    if(variant STREQUAL "learner")
      set(exe ${K_NAME}_test)
      set(impl ${K_NAME}_kata)
    else()
      set(exe ${K_NAME}_solution_test)
      set(impl ${K_NAME}_solution)
    endif()
    add_executable(${exe} $<TARGET_OBJECTS:${K_NAME}_tests>)
    target_link_libraries(${exe} PRIVATE ${K_NAME}_tests ${impl} GTest::gtest_main)
    if(LLMK_SANITIZE)
      target_link_libraries(${exe} PRIVATE llmk_sanitizer_options)
    endif()
    target_link_options(${exe} PRIVATE ${K_TEST_LINK_OPTIONS})
    if(variant STREQUAL "learner" AND LLMK_GOLD)
      target_link_options(${exe} PRIVATE -fuse-ld=gold)  # the learner relinks it at every test
    endif()
    # Tests are read from the sources at configure time (so labels are real lists):
    # "learner/Step4_Softmax.RowsSumToOne" is labelled 02_attention, step4, learner.
    gtest_add_tests(TARGET ${exe} SOURCES ${K_TESTS} TEST_PREFIX "${variant}/"
                    TEST_LIST discovered)
    foreach(test IN LISTS discovered)
      set(labels ${K_NAME} ${variant})
      if(test MATCHES "/Step([0-9]+)_")
        list(APPEND labels step${CMAKE_MATCH_1})
      endif()
      set_tests_properties(${test} PROPERTIES LABELS "${labels}" TIMEOUT 60)
      if(LLMK_SANITIZE)  # instrumented code runs 2 to 4 times slower
        set_tests_properties(${test} PROPERTIES ENVIRONMENT "${LLMK_SANITIZER_ENV}" TIMEOUT 240)
      endif()
    endforeach()
  endforeach()

  set(bench_exes "")
  if(K_BENCHMARKS)
    # Like the tests: the benchmark sources are compiled once and linked against each variant.
    add_library(${K_NAME}_benchmarks OBJECT ${K_BENCHMARKS})
    target_include_directories(${K_NAME}_benchmarks PRIVATE ${kata_dir})
    target_link_libraries(${K_NAME}_benchmarks PUBLIC ${K_LIBS} llmk_testing benchmark::benchmark)
    llmk_apply_warnings(${K_NAME}_benchmarks)
    foreach(variant IN LISTS variants)
      if(variant STREQUAL "learner")
        set(exe ${K_NAME}_bench)
        set(impl ${K_NAME}_kata)
      else()
        set(exe ${K_NAME}_solution_bench)
        set(impl ${K_NAME}_solution)
      endif()
      add_executable(${exe} $<TARGET_OBJECTS:${K_NAME}_benchmarks>)
      target_link_libraries(${exe} PRIVATE ${K_NAME}_benchmarks ${impl} benchmark::benchmark_main)
      list(APPEND bench_exes ${exe})
    endforeach()
  endif()

  # Independent recomputation of the fixtures, where the kata has one.
  set(recompute ${CMAKE_SOURCE_DIR}/tools/recompute/${K_NAME}.py)
  if(LLMK_HAVE_NUMPY AND EXISTS ${recompute})
    add_test(NAME recompute/${K_NAME}
             COMMAND ${LLMK_PYTHON} ${recompute} ${CMAKE_SOURCE_DIR}/fixtures/${K_NAME})
    set_tests_properties(recompute/${K_NAME} PROPERTIES LABELS "${K_NAME};recompute")
  endif()

  set_property(GLOBAL APPEND PROPERTY LLMK_KATAS ${K_NAME})
  set_property(GLOBAL PROPERTY LLMK_KATA_${K_NAME}_BENCH "${bench_exes}")
endfunction()

# Writes build/katas.json: the manifest the `kata` harness reads to find each
# kata's binaries (the steps themselves come from katas/NAME/kata.json).
function(llmk_finish_katas)
  get_property(katas GLOBAL PROPERTY LLMK_KATAS)
  set(entries "")
  foreach(k IN LISTS katas)
    get_property(bench GLOBAL PROPERTY LLMK_KATA_${k}_BENCH)
    set(learner_bench "")
    set(solution_bench "")
    set(learner_bench_target "")
    set(solution_bench_target "")
    if(TARGET ${k}_bench)
      set(learner_bench "$<TARGET_FILE:${k}_bench>")
      set(learner_bench_target "${k}_bench")
    endif()
    if(TARGET ${k}_solution_bench)
      set(solution_bench "$<TARGET_FILE:${k}_solution_bench>")
      set(solution_bench_target "${k}_solution_bench")
    endif()
    # Without solutions/ (a learner's copy) the entry has no "solution".
    set(solution_entry "")
    if(TARGET ${k}_solution_test)
      set(solution_entry ",\n     \"solution\": {\"target\": \"${k}_solution_test\", \"binary\": \"$<TARGET_FILE:${k}_solution_test>\",\n                  \"bench_target\": \"${solution_bench_target}\", \"bench\": \"${solution_bench}\"}")
    endif()
    string(APPEND entries
      "    {\"name\": \"${k}\", \"dir\": \"katas/${k}\",\n"
      "     \"learner\": {\"target\": \"${k}_test\", \"binary\": \"$<TARGET_FILE:${k}_test>\",\n"
      "                 \"bench_target\": \"${learner_bench_target}\", \"bench\": \"${learner_bench}\"}"
      "${solution_entry}},\n")
  endforeach()
  string(REGEX REPLACE ",\n$" "\n" entries "${entries}")
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/katas.json CONTENT
"{\n  \"source_dir\": \"${CMAKE_SOURCE_DIR}\",\n  \"build_dir\": \"${CMAKE_BINARY_DIR}\",\n  \"katas\": [\n${entries}  ]\n}\n")
endfunction()
