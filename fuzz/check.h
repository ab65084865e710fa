// FUZZ_CHECK(condition, fmt-args...): the property checks of the fuzz targets.
//
//   FUZZ_CHECK(back == text, "Decode(Encode(x)) differs from x ({} bytes)", text.size());
//
// A broken property prints what broke and aborts, which libFuzzer reports as a crash
// (and saves the input), and which fails a replay test.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#define FUZZ_CHECK(condition, ...)                                                               \
  do {                                                                                           \
    if (!(condition)) {                                                                          \
      std::fprintf(stderr, "%s:%d: property broken: %s\n  %s\n", __FILE__, __LINE__, #condition, \
                   ::fmt::format(__VA_ARGS__).c_str());                                          \
      std::abort();                                                                              \
    }                                                                                            \
  } while (false)
