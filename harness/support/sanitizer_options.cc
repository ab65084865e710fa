// Default sanitizer options of every kata test binary in the sanitizer build (preset
// "sanitize"; cmake/llmk.cmake links this file into each test only there). They apply
// however the binary is started (by `kata`, by CTest, by hand, from an IDE); the
// ASAN_OPTIONS and UBSAN_OPTIONS variables still override them one by one.
//
//   ASAN_OPTIONS=handle_abort=0 build-sanitize/katas/02_attention/02_attention_test

// Stop at the first report; report leaks at exit; give a stack for a failed assertion
// (Eigen's bounds checks, _GLIBCXX_ASSERTIONS), which ends in abort(); leave out the
// shadow-byte legend so the report's stacks stay near its end, where `kata` shows it.
extern "C" const char* __asan_default_options() {
  return "halt_on_error=1:detect_leaks=1:handle_abort=1:print_legend=0:"
         "detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1";
}

// Every UBSan check is fatal (-fno-sanitize-recover=all); print where it happened from.
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }
