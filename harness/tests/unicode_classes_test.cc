// The character classes of the GPT-2 split pattern (llmk/unicode_classes.h), which
// 01_bpe's stub, its solution and the reference all use: every code point of Unicode is
// checked against utf8proc's general category and the White_Space list of the Unicode
// Character Database (PropList.txt), and every scalar value decodes from its UTF-8.
#include "llmk/unicode_classes.h"

#include <gtest/gtest.h>
#include <utf8proc.h>

#include <set>
#include <string>

#include "llmk/testing/utf8.h"

namespace llmk::bpe {
namespace {

// White_Space, as PropList.txt lists it (unchanged since Unicode 6.3).
const std::set<char32_t>& WhiteSpace() {
  static const std::set<char32_t> kSet = [] {
    std::set<char32_t> set = {0x20,   0x85,   0xA0,   0x1680, 0x2028,
                              0x2029, 0x202F, 0x205F, 0x3000};
    for (char32_t c = 0x09; c <= 0x0D; ++c) set.insert(c);
    for (char32_t c = 0x2000; c <= 0x200A; ++c) set.insert(c);
    return set;
  }();
  return kSet;
}

CharClass ExpectedClass(char32_t c) {
  if (WhiteSpace().contains(c)) return CharClass::kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::kLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::kNumber;
    default:
      return CharClass::kOther;
  }
}

TEST(UnicodeClasses, EveryCodePointHasItsUnicodeClass) {
  int wrong = 0;
  int counts[4] = {0, 0, 0, 0};
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;  // surrogates are not characters
    const CharClass got = ClassOf(c);
    ++counts[static_cast<int>(got)];
    if (got != ExpectedClass(c) && ++wrong <= 10) {
      ADD_FAILURE() << "U+" << std::hex << static_cast<std::uint32_t>(c) << ": class "
                    << static_cast<int>(got) << ", Unicode says "
                    << static_cast<int>(ExpectedClass(c));
    }
  }
  EXPECT_EQ(wrong, 0);
  // Every White_Space code point is a space, and nothing else is.
  EXPECT_EQ(counts[static_cast<int>(CharClass::kSpace)], 25);
  // Unicode 15.0 has 136,000-odd letters and 1,800-odd numbers; the counts move only up.
  EXPECT_GT(counts[static_cast<int>(CharClass::kLetter)], 130000);
  EXPECT_GT(counts[static_cast<int>(CharClass::kNumber)], 1700);
  EXPECT_EQ(ClassOf(0x110000), CharClass::kOther);
}

// Code points that an approximation by blocks got wrong, named.
TEST(UnicodeClasses, ScriptsOutsideTheCommonBlocks) {
  EXPECT_EQ(ClassOf(0x0F40), CharClass::kLetter);   // TIBETAN LETTER KA
  EXPECT_EQ(ClassOf(0x0E01), CharClass::kLetter);   // THAI CHARACTER KO KAI
  EXPECT_EQ(ClassOf(0x0E31), CharClass::kOther);    // THAI MAI HAN-AKAT (Mn)
  EXPECT_EQ(ClassOf(0x1040), CharClass::kNumber);   // MYANMAR DIGIT ZERO
  EXPECT_EQ(ClassOf(0x16EE), CharClass::kNumber);   // RUNIC ARLAUG SYMBOL (Nl)
  EXPECT_EQ(ClassOf(0x20000), CharClass::kLetter);  // CJK UNIFIED IDEOGRAPH-20000
  EXPECT_EQ(ClassOf(0x1D7CE), CharClass::kNumber);  // MATHEMATICAL BOLD DIGIT ZERO
  EXPECT_EQ(ClassOf(0x1F642), CharClass::kOther);   // SLIGHTLY SMILING FACE
  EXPECT_EQ(ClassOf(0xE000), CharClass::kOther);    // private use
  EXPECT_EQ(ClassOf(0x0085), CharClass::kSpace);    // NEXT LINE, a control that is a space
  EXPECT_EQ(ClassOf(0x200B), CharClass::kOther);    // ZERO WIDTH SPACE is not White_Space
  EXPECT_FALSE(UnicodeVersion().empty());
}

TEST(UnicodeClasses, EveryScalarValueDecodesFromItsUtf8) {
  int wrong = 0;
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    const std::string bytes = ::llmk::testing::Utf8(c);
    const CodePoint cp = DecodeAt(bytes, 0);
    if ((cp.value != c || cp.length != static_cast<int>(bytes.size()) ||
         cp.char_class != ClassOf(c)) &&
        ++wrong <= 10) {
      ADD_FAILURE() << "U+" << std::hex << static_cast<std::uint32_t>(c) << " decodes as U+"
                    << static_cast<std::uint32_t>(cp.value) << " of length " << std::dec
                    << cp.length;
    }
  }
  EXPECT_EQ(wrong, 0);
}

TEST(UnicodeClasses, InvalidUtf8IsOneByteOfClassOther) {
  for (const std::string bad : {"\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                "\xE4\xB8", "\xFF"}) {
    const CodePoint cp = DecodeAt(bad, 0);
    EXPECT_EQ(cp.length, 1);
    EXPECT_EQ(cp.value, 0xFFFDu);
    EXPECT_EQ(cp.char_class, CharClass::kOther);
  }
}

}  // namespace
}  // namespace llmk::bpe
