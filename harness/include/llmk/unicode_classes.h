// The character classes of the GPT-2 split pattern (01_bpe, Step 7), shared by the kata,
// its solution and the reference: decoding UTF-8 and knowing which code points are letters
// is not what the kata teaches, and the classes come from a maintained Unicode library,
// utf8proc (Debian libutf8proc-dev), so that they are exact on all of Unicode.
//
//   CodePoint c = DecodeAt(text, pos);   // the character starting at text[pos]
//   if (c.char_class == CharClass::kLetter) ...
//   pos += c.length;                     // 1 to 4 bytes
//
// The four classes are those of the pattern's \p{L}, \p{N} and \s:
//   kLetter  \p{L}: general category Lu, Ll, Lt, Lm or Lo;
//   kNumber  \p{N}: general category Nd, Nl or No;
//   kSpace   \s: the Unicode property White_Space, which is the separators (categories
//            Zs, Zl, Zp) and the controls U+0009..U+000D and U+0085: exactly U+0009..U+000D,
//            U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
//            U+205F, U+3000;
//   kOther   everything else: punctuation, symbols, emoji, combining marks, unassigned
//            code points, and every byte that does not start a valid UTF-8 sequence.
// The categories are those of the Unicode version utf8proc was built with
// (UnicodeVersion() says which; Debian 12's utf8proc 2.8 has Unicode 15.0).
//
// Invalid UTF-8 (a stray continuation byte, an overlong form, a surrogate, a value above
// U+10FFFF, a sequence cut short) is read one byte at a time: each such byte is one
// character of class kOther and length 1, so every byte string can be pretokenized.
#pragma once

#include <utf8proc.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace llmk::bpe {

enum class CharClass : std::uint8_t { kLetter, kNumber, kSpace, kOther };

struct CodePoint {
  char32_t value = 0;  // U+FFFD for a byte that is not valid UTF-8
  int length = 1;      // bytes: 1 to 4
  CharClass char_class = CharClass::kOther;
};

namespace unicode_internal {

constexpr bool IsContinuation(unsigned char b) { return (b & 0xC0) == 0x80; }

// ASCII without a library call (most of any text): letters, digits, \t..\r and space.
constexpr CharClass AsciiClassOf(char32_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CharClass::kLetter;
  if (c >= '0' && c <= '9') return CharClass::kNumber;
  if ((c >= 0x09 && c <= 0x0D) || c == 0x20) return CharClass::kSpace;
  return CharClass::kOther;
}

}  // namespace unicode_internal

// The class of one code point, as described at the top of this file.
inline CharClass ClassOf(char32_t c) {
  if (c < 0x80) return unicode_internal::AsciiClassOf(c);
  if (c > 0x10FFFF) return CharClass::kOther;
  if (c == 0x85) return CharClass::kSpace;  // NEL: a control (Cc) that is White_Space
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
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return CharClass::kSpace;
    default:
      return CharClass::kOther;
  }
}

// The Unicode version of the classes ("15.0.0").
inline std::string_view UnicodeVersion() { return utf8proc_unicode_version(); }

// Decodes the character that starts at text[pos]; pos < text.size().
// A byte that does not begin a valid UTF-8 sequence is a 1-byte kOther character.
inline CodePoint DecodeAt(std::string_view text, std::size_t pos) {
  using unicode_internal::IsContinuation;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const std::size_t left = text.size() - pos;
  const unsigned char b0 = byte(pos);
  CodePoint cp;
  cp.value = 0xFFFD;
  if (b0 < 0x80) {
    cp.value = b0;
  } else if (b0 >= 0xC2 && b0 <= 0xDF && left >= 2 && IsContinuation(byte(pos + 1))) {
    cp.value = (static_cast<char32_t>(b0 & 0x1F) << 6) | (byte(pos + 1) & 0x3F);
    cp.length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF && left >= 3 && IsContinuation(byte(pos + 1)) &&
             IsContinuation(byte(pos + 2))) {
    const char32_t v = (static_cast<char32_t>(b0 & 0x0F) << 12) |
                       (static_cast<char32_t>(byte(pos + 1) & 0x3F) << 6) | (byte(pos + 2) & 0x3F);
    if (v >= 0x800 && (v < 0xD800 || v > 0xDFFF)) {  // not overlong, not a surrogate
      cp.value = v;
      cp.length = 3;
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4 && left >= 4 && IsContinuation(byte(pos + 1)) &&
             IsContinuation(byte(pos + 2)) && IsContinuation(byte(pos + 3))) {
    const char32_t v = (static_cast<char32_t>(b0 & 0x07) << 18) |
                       (static_cast<char32_t>(byte(pos + 1) & 0x3F) << 12) |
                       (static_cast<char32_t>(byte(pos + 2) & 0x3F) << 6) | (byte(pos + 3) & 0x3F);
    if (v >= 0x10000 && v <= 0x10FFFF) {
      cp.value = v;
      cp.length = 4;
    }
  }
  cp.char_class = cp.length == 1 && b0 >= 0x80 ? CharClass::kOther : ClassOf(cp.value);
  return cp;
}

}  // namespace llmk::bpe
