// The character classes of the GPT-2 split pattern (Step 7), given to you: DecodeAt and
// ClassOf, exact on all of Unicode (from the utf8proc library). They live in
// harness/include/llmk/unicode_classes.h because the reference oracles use them too;
// read that header for what each class holds.
#pragma once

#include "llmk/unicode_classes.h"
