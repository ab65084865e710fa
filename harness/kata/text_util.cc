#include "text_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace llmk::kata {

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string FirstLines(std::string_view text, std::size_t max_lines, std::size_t max_chars) {
  const std::vector<std::string_view> lines = SplitLines(text);
  std::string kept;
  std::size_t used = 0;
  for (; used < lines.size() && used < max_lines; ++used) {
    if (kept.size() + lines[used].size() > max_chars) break;
    kept.append(lines[used]);
    kept.push_back('\n');
  }
  if (used < lines.size()) {
    kept += fmt::format("... ({} more lines)\n", lines.size() - used);
  }
  return kept;
}

std::string LastLines(std::string_view text, std::size_t max_lines) {
  const std::vector<std::string_view> lines = SplitLines(text);
  const std::size_t first = lines.size() > max_lines ? lines.size() - max_lines : 0;
  std::string kept;
  if (first > 0) kept += fmt::format("... ({} earlier lines)\n", first);
  for (std::size_t i = first; i < lines.size(); ++i) {
    kept.append(lines[i]);
    kept.push_back('\n');
  }
  return kept;
}

std::string ClipLongLines(std::string_view text, std::size_t max_chars) {
  std::string out;
  for (std::string_view line : SplitLines(text)) {
    if (line.size() > max_chars) {
      std::size_t cut = max_chars;
      // Do not split a UTF-8 sequence: back up over continuation bytes.
      while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
      out.append(line.substr(0, cut));
      out.append(" [...]");
    } else {
      out.append(line);
    }
    out.push_back('\n');
  }
  return out;
}

std::string Indent(std::string_view text, std::string_view prefix) {
  std::string out;
  for (std::string_view line : SplitLines(text)) {
    if (!line.empty()) out.append(prefix);
    out.append(line);
    out.push_back('\n');
  }
  return out;
}

std::string_view TrimRight(std::string_view text) {
  const std::size_t end = text.find_last_not_of(" \t\r\n");
  return end == std::string_view::npos ? std::string_view() : text.substr(0, end + 1);
}

std::string_view Trim(std::string_view text) {
  text = TrimRight(text);
  const std::size_t start = text.find_first_not_of(" \t\r\n");
  return start == std::string_view::npos ? std::string_view() : text.substr(start);
}

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence starting at text[i], or 0 if invalid.
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[k]); };
  const std::uint8_t lead = byte(i);
  std::size_t length = 0;
  std::uint32_t min_code_point = 0;
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    min_code_point = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    min_code_point = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    min_code_point = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  std::uint32_t code_point = lead & (0x7F >> length);
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3F);
  }
  // Overlong encodings, UTF-16 surrogates and values past U+10FFFF are invalid.
  if (code_point < min_code_point || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// Length of the ANSI escape sequence starting at text[i] (text[i] == ESC).
std::size_t EscapeSequenceLength(std::string_view text, std::size_t i) {
  if (i + 1 < text.size() && text[i + 1] == '[') {
    // CSI: ESC [ parameters... final byte in 0x40..0x7E.
    std::size_t k = i + 2;
    while (k < text.size() && !(text[k] >= 0x40 && text[k] <= 0x7E)) ++k;
    return std::min(k + 1, text.size()) - i;
  }
  return std::min<std::size_t>(2, text.size() - i);
}

}  // namespace

std::string CleanText(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const char c = bytes[i];
    if (c == '\x1b') {
      i += EscapeSequenceLength(bytes, i);
      continue;
    }
    if (c == '\r') {
      ++i;
      continue;
    }
    const auto u = static_cast<std::uint8_t>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7F) {
      out.append(kReplacement);
      ++i;
      continue;
    }
    const std::size_t length = Utf8SequenceLength(bytes, i);
    if (length == 0) {
      out.append(kReplacement);
      ++i;
      continue;
    }
    out.append(bytes.substr(i, length));
    i += length;
  }
  return out;
}

std::size_t DisplayWidth(std::string_view utf8) {
  return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<std::uint8_t>(c) & 0xC0) != 0x80;
  }));
}

std::string PadRight(std::string_view utf8, std::size_t width) {
  std::string out(utf8);
  const std::size_t used = DisplayWidth(utf8);
  if (used < width) out.append(width - used, ' ');
  return out;
}

}  // namespace llmk::kata
