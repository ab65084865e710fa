// The character classes of the GPT-2 split pattern (Step 7), given to you: decoding
// UTF-8 and knowing which code points are letters is not what this kata teaches.
//
//   CodePoint c = DecodeAt(text, pos);   // the character starting at text[pos]
//   if (c.char_class == CharClass::kLetter) ...
//   pos += c.length;                     // 1 to 4 bytes
//
// The four classes are those of the pattern's \p{L}, \p{N} and \s:
//   kSpace   \s, Unicode White_Space, exactly: U+0009..U+000D, U+0020, U+0085, U+00A0,
//            U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
//   kLetter  \p{L} (categories Lu Ll Lt Lm Lo) and
//   kNumber  \p{N} (categories Nd Nl No), both exactly as Unicode 14.0 defines them
//            inside these blocks, and nowhere else:
//              U+0000..U+06FF  Latin, Latin-1, Latin Extended-A/B, IPA, Greek, Cyrillic,
//                              Armenian, Hebrew, Arabic
//              U+0900..U+097F  Devanagari
//              U+1100..U+11FF  Hangul Jamo
//              U+1E00..U+1FFF  Latin Extended Additional, Greek Extended
//              U+2000..U+218F  punctuation, super- and subscripts, letterlike symbols,
//                              number forms
//              U+2460..U+24FF  enclosed alphanumerics
//              U+3000..U+30FF  CJK symbols, Hiragana, Katakana
//              U+3130..U+318F  Hangul compatibility Jamo
//              U+3400..U+4DBF, U+4E00..U+9FFF  CJK unified ideographs (and extension A)
//              U+AC00..U+D7A3  Hangul syllables
//              U+FF00..U+FFEF  halfwidth and fullwidth forms
//   kOther   everything else: punctuation, symbols, emoji, combining marks, letters of
//            scripts outside the blocks above (an approximation: Thai letters, say, count
//            as kOther here and as \p{L} in tiktoken), and every byte that does not start
//            a valid UTF-8 sequence.
//
// Invalid UTF-8 (a stray continuation byte, an overlong form, a surrogate, a value above
// U+10FFFF, a sequence cut short) is read one byte at a time: each such byte is one
// character of class kOther and length 1, so every byte string can be pretokenized.
#pragma once

#include <algorithm>
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

struct Range {
  char32_t first;
  char32_t last;
};

// \p{L} inside the blocks listed above (Unicode 14.0), sorted, inclusive.
inline constexpr Range kLetters[] = {
    {0x0041, 0x005A}, {0x0061, 0x007A}, {0x00AA, 0x00AA}, {0x00B5, 0x00B5}, {0x00BA, 0x00BA},
    {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x02C1}, {0x02C6, 0x02D1}, {0x02E0, 0x02E4},
    {0x02EC, 0x02EC}, {0x02EE, 0x02EE}, {0x0370, 0x0374}, {0x0376, 0x0377}, {0x037A, 0x037D},
    {0x037F, 0x037F}, {0x0386, 0x0386}, {0x0388, 0x038A}, {0x038C, 0x038C}, {0x038E, 0x03A1},
    {0x03A3, 0x03F5}, {0x03F7, 0x0481}, {0x048A, 0x052F}, {0x0531, 0x0556}, {0x0559, 0x0559},
    {0x0560, 0x0588}, {0x05D0, 0x05EA}, {0x05EF, 0x05F2}, {0x0620, 0x064A}, {0x066E, 0x066F},
    {0x0671, 0x06D3}, {0x06D5, 0x06D5}, {0x06E5, 0x06E6}, {0x06EE, 0x06EF}, {0x06FA, 0x06FC},
    {0x06FF, 0x06FF}, {0x0904, 0x0939}, {0x093D, 0x093D}, {0x0950, 0x0950}, {0x0958, 0x0961},
    {0x0971, 0x097F}, {0x1100, 0x11FF}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D}, {0x1F20, 0x1F45},
    {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D},
    {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4},
    {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4},
    {0x1FF6, 0x1FFC}, {0x2071, 0x2071}, {0x207F, 0x207F}, {0x2090, 0x209C}, {0x2102, 0x2102},
    {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124},
    {0x2126, 0x2126}, {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2139}, {0x213C, 0x213F},
    {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x3005, 0x3006}, {0x3031, 0x3035},
    {0x303B, 0x303C}, {0x3041, 0x3096}, {0x309D, 0x309F}, {0x30A1, 0x30FA}, {0x30FC, 0x30FF},
    {0x3131, 0x318E}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A}, {0xFF66, 0xFFBE}, {0xFFC2, 0xFFC7}, {0xFFCA, 0xFFCF}, {0xFFD2, 0xFFD7},
    {0xFFDA, 0xFFDC},
};

// \p{N} inside the same blocks.
inline constexpr Range kNumbers[] = {
    {0x0030, 0x0039}, {0x00B2, 0x00B3}, {0x00B9, 0x00B9}, {0x00BC, 0x00BE}, {0x0660, 0x0669},
    {0x06F0, 0x06F9}, {0x0966, 0x096F}, {0x2070, 0x2070}, {0x2074, 0x2079}, {0x2080, 0x2089},
    {0x2150, 0x2182}, {0x2185, 0x2189}, {0x2460, 0x249B}, {0x24EA, 0x24FF}, {0x3007, 0x3007},
    {0x3021, 0x3029}, {0x3038, 0x303A}, {0xFF10, 0xFF19},
};

template <std::size_t N>
constexpr bool InRanges(const Range (&ranges)[N], char32_t c) {
  // The first range whose last code point is >= c; c is in it if it starts at or before c.
  const Range* it = std::lower_bound(std::begin(ranges), std::end(ranges), c,
                                     [](const Range& r, char32_t x) { return r.last < x; });
  return it != std::end(ranges) && it->first <= c;
}

constexpr bool IsWhiteSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

constexpr bool IsContinuation(unsigned char b) { return (b & 0xC0) == 0x80; }

}  // namespace unicode_internal

// The class of one code point, as described at the top of this file.
constexpr CharClass ClassOf(char32_t c) {
  if (unicode_internal::IsWhiteSpace(c)) return CharClass::kSpace;
  if (unicode_internal::InRanges(unicode_internal::kLetters, c)) return CharClass::kLetter;
  if (unicode_internal::InRanges(unicode_internal::kNumbers, c)) return CharClass::kNumber;
  return CharClass::kOther;
}

// Decodes the character that starts at text[pos]; pos < text.size().
// A byte that does not begin a valid UTF-8 sequence is a 1-byte kOther character.
constexpr CodePoint DecodeAt(std::string_view text, std::size_t pos) {
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
