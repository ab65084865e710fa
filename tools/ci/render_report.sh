#!/usr/bin/env bash
# Renders the HTML grade report in a real browser and checks that it draws.
#
#   tools/ci/render_report.sh BUILD_DIR [OUT_DIR]
#
# On a configured and built tree, runs the real `kata grade --format html` twice:
#   learner   with docs/assignments/attention-week.json (the stubs: a low score),
#   solution  without an assignment (every step passing),
# checks each page is self-contained (no network, no script), takes a 1280x2000
# screenshot of each in headless Chromium, and checks each PNG is a real
# rendering: decoded here (python3's zlib), it must have the requested size,
# many colours, and no colour covering nearly all of it. OUT_DIR (default
# BUILD_DIR/render-report) keeps the pages and the screenshots.
set -euo pipefail

fail() { echo "render_report: $*" >&2; exit 1; }

[[ $# -ge 1 && $# -le 2 ]] || fail "usage: tools/ci/render_report.sh BUILD_DIR [OUT_DIR]"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$(cd "$1" 2>/dev/null && pwd)" || fail "no build directory $1"
OUT="${2:-$BUILD/render-report}"
KATA="$BUILD/harness/kata/kata"
ASSIGNMENT="$ROOT/docs/assignments/attention-week.json"
WIDTH=1280
HEIGHT=2000

[[ -x "$KATA" ]] || fail "no kata binary at $KATA (build the target kata first)"
[[ -f "$ASSIGNMENT" ]] || fail "no assignment at $ASSIGNMENT"
CHROMIUM="$(command -v chromium || true)"
if [[ -z "$CHROMIUM" ]]; then
  fail "chromium is missing; install it with: sudo apt-get install -y chromium"
fi
mkdir -p "$OUT"

# grade NAME ARGS...: writes OUT/NAME.html; exit 1 (not everything passes) is expected.
grade() {
  local name="$1"
  shift
  local rc=0
  rm -f "$OUT/$name.html"
  "$KATA" --root="$ROOT" --build_dir="$BUILD" grade --format html --out "$OUT/$name.html" "$@" \
    >"$OUT/$name.log" 2>&1 || rc=$?
  if [[ $rc -gt 1 || ! -s "$OUT/$name.html" ]]; then
    tail -40 "$OUT/$name.log" >&2
    fail "kata grade $* exited $rc without writing $OUT/$name.html"
  fi
  echo "render_report: $name: kata grade exited $rc: $(tail -1 "$OUT/$name.log")"
}

# shoot NAME: OUT/NAME.png from OUT/NAME.html.
shoot() {
  local name="$1"
  rm -f "$OUT/$name.png"
  # A private profile, so that no running browser or leftover profile interferes.
  local profile
  profile="$(mktemp -d "${TMPDIR:-/tmp}/render-report-profile.XXXXXX")"
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$profile" --window-size="$WIDTH,$HEIGHT" \
    --screenshot="$OUT/$name.png" "file://$OUT/$name.html" >"$OUT/$name.chromium.log" 2>&1 ||
    true
  rm -rf "$profile"
  if [[ ! -s "$OUT/$name.png" ]]; then
    tail -20 "$OUT/$name.chromium.log" >&2
    fail "chromium wrote no screenshot of $OUT/$name.html"
  fi
}

# check NAME: the page is self-contained and the screenshot is a real rendering.
check() {
  python3 - "$OUT/$1.html" "$OUT/$1.png" "$WIDTH" "$HEIGHT" <<'PY'
import re
import struct
import sys
import zlib

html_file, png_file, want_width, want_height = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
name = png_file.rsplit("/", 1)[-1]

def fail(message):
    sys.exit(f"render_report: {message}")

html = open(html_file, encoding="utf-8").read()  # fails on invalid UTF-8
for pattern in (r"https?://", r"<script", r"<link", r"\bsrc=", r"url\(", r"@import"):
    if re.search(pattern, html, re.IGNORECASE):
        fail(f"{html_file}: the page is not self-contained ({pattern} found)")
if not html.startswith("<!doctype html>") or "</html>" not in html:
    fail(f"{html_file}: not a complete HTML document")

data = open(png_file, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    fail(f"{png_file}: not a PNG")
pos, idat, header = 8, [], None
while pos + 8 <= len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        header = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat.append(body)
    elif kind == b"IEND":
        break
    pos += 12 + length
if header is None or not idat:
    fail(f"{png_file}: no IHDR or no IDAT chunk")
width, height, depth, colour_type, _, _, interlace = header
channels = {2: 3, 6: 4}.get(colour_type)
if depth != 8 or channels is None or interlace != 0:
    fail(f"{png_file}: unexpected PNG format (depth {depth}, colour type {colour_type}, "
         f"interlace {interlace})")
if (width, height) != (want_width, want_height):
    fail(f"{png_file}: {width}x{height}, expected {want_width}x{want_height}")

# Undo the per-row filters (PNG specification, section 9).
raw = zlib.decompress(b"".join(idat))
stride = width * channels
if len(raw) != height * (stride + 1):
    fail(f"{png_file}: {len(raw)} bytes of image data, expected {height * (stride + 1)}")
previous = bytearray(stride)
counts = {}
for y in range(height):
    start = y * (stride + 1)
    kind = raw[start]
    row = bytearray(raw[start + 1:start + 1 + stride])
    if kind == 1:
        for i in range(channels, stride):
            row[i] = (row[i] + row[i - channels]) & 0xFF
    elif kind == 2:
        row = bytearray((a + b) & 0xFF for a, b in zip(row, previous))
    elif kind == 3:
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            row[i] = (row[i] + ((left + previous[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(stride):
            a = row[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    elif kind != 0:
        fail(f"{png_file}: unknown filter {kind} in row {y}")
    # Colours of every 2nd pixel of every 2nd row: plenty to tell a page from a blank.
    if y % 2 == 0:
        step = 2 * channels
        for i in range(0, stride, step):
            key = bytes(row[i:i + 3])
            counts[key] = counts.get(key, 0) + 1
    previous = row

sampled = sum(counts.values())
top = max(counts.values())
print(f"render_report: {name}: {width}x{height}, {len(counts)} distinct colours, "
      f"the commonest covers {100.0 * top / sampled:.1f}%")
if len(counts) < 16:
    fail(f"{png_file}: only {len(counts)} colours: blank or nearly so")
if top > 0.98 * sampled:
    fail(f"{png_file}: one colour covers {100.0 * top / sampled:.1f}% of it: nearly blank")
PY
}

grade learner --assignment "$ASSIGNMENT"
grade solution --variant solution
for name in learner solution; do
  shoot "$name"
  check "$name"
done
echo "render_report: OK: $OUT/learner.png and $OUT/solution.png"
