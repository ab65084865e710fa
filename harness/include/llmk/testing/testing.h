// Everything a kata test includes: fixtures, tolerance matchers, error-path
// assertions, seeded random inputs, singular values and random orthogonal matrices.
#pragma once

#include <gtest/gtest.h>

#include "llmk/core.h"
#include "llmk/testing/expect_error.h"
#include "llmk/testing/fixture.h"
#include "llmk/testing/linalg.h"
#include "llmk/testing/random.h"
#include "llmk/testing/tolerance.h"
