#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/NAME/.

    python3 fuzz/make_seeds.py

Each seed is small and means something: a valid file of the format a target reads,
and a few near misses that exercise its error paths. Running it again rewrites the
same bytes (the corpus is reproducible); the corpus libFuzzer grows is never kept here.
"""
import base64
import json
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def write(target, name, data):
    path = CORPUS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)


# --- bpe_roundtrip: text to encode, and id lists to decode (read as int32) -------------
def bpe_roundtrip():
    t = "bpe_roundtrip"
    write(t, "plain_text", "The quick brown fox jumps over the lazy dog.")
    write(t, "special_token", "Hello<|endoftext|>world<|endoftext|><|endofte")
    write(t, "contractions_numbers", "it's 2024 and we'll've 12345 things  \n\n\t ")
    write(t, "unicode", "caf\u00e9 \u65e5\u672c\u8a9e \U0001F600 na\u00efve\u00a0nbsp")
    write(t, "invalid_utf8", b"\xff\xfe\xc3\x28 \xe2\x82 \xf0\x9f\x98 ok\x00\x01")
    write(t, "printable_form", "\u0120Hello\u010a\u0120world")
    write(t, "ids", struct.pack("<8i", 72, 101, 256, 300, -1, 319, 320, 2**31 - 1))


# --- tiktoken_load: rank files and merges files ----------------------------------------
def rank_file(extra):
    lines = [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)]
    for i, token in enumerate(extra):
        lines.append(f"{base64.b64encode(token).decode()} {256 + i}")
    return "\n".join(lines) + "\n"


def tiktoken_load():
    t = "tiktoken_load"
    write(t, "ranks_valid", rank_file([b"he", b"ll", b"hell", b"hello", b" w"]))
    write(t, "ranks_bytes_only", rank_file([]))
    write(t, "ranks_short", "aA== 0\naGU= 1\n")
    write(t, "ranks_duplicate_rank", rank_file([b"he"]) + "bGw= 256\n")
    write(t, "ranks_bad_base64", rank_file([]) + "a#== 256\n")
    write(t, "merges_valid", "# merges\n104 101 10\n256 108 4\n257 108 3\n258 111 2\n")
    write(t, "merges_no_counts", "104 101\n\n256 108\n")
    write(t, "merges_future_token", "# merges\n104 101 1\n300 1 1\n")
    write(t, "merges_same_bytes_twice", "104 101 1\n104 101 1\n")


# --- fixture_json: fixture files -------------------------------------------------------
def fixture_json():
    t = "fixture_json"
    good = {"about": "a tiny fixture",
            "tolerance": {"atol": 1e-4, "rtol": 0, "why": "rounded to 4 decimals"},
            "values": {"Q": {"shape": [2, 3], "data": [[1, 2, 3], [4.5, -5, 6e-3]]},
                       "d_k": 2, "scale": 0.7071, "empty": {"shape": [0, 2], "data": []}}}
    write(t, "valid", json.dumps(good))
    bad = json.loads(json.dumps(good))
    bad["values"]["Q"]["shape"] = [3, 3]
    write(t, "rows_mismatch", json.dumps(bad))
    bad = json.loads(json.dumps(good))
    bad["tolerance"] = {"atol": -1, "rtol": 0, "why": "x"}
    write(t, "negative_atol", json.dumps(bad))
    write(t, "not_json", '{"tolerance": {"atol": 1e-4,')
    write(t, "big_int", '{"tolerance": {"atol": 0, "rtol": 0, "why": "exact"},'
                        ' "values": {"n": 4294967296, "m": -2147483649, "half": 2.5}}')


# --- safetensors: files ----------------------------------------------------------------
def safetensors_file(tensors, pad=0, metadata=True):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = {"format": "pt"}
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text + data


def safetensors():
    t = "safetensors"
    w = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    b = struct.pack("<3e", 0.5, -1, 65504)
    bf = struct.pack("<2H", 0x3F80, 0xC000)  # bfloat16 1.0 and -2.0
    write(t, "two_tensors", safetensors_file([("embed.weight", "F32", [2, 3], w),
                                              ("norm.bias", "F16", [3], b)], pad=3))
    write(t, "bf16_scalar_empty", safetensors_file([("s", "BF16", [], bf[:2]),
                                                    ("v", "BF16", [1], bf[2:]),
                                                    ("e", "F32", [0, 4], b"")]))
    write(t, "truncated", safetensors_file([("embed.weight", "F32", [2, 3], w)])[:-5])
    over = safetensors_file([("a", "F32", [1], w[:4]), ("b", "F32", [1], w[4:8])])
    write(t, "overlap", over.replace(b"[4, 8]", b"[0, 4]"))
    write(t, "header_past_end", struct.pack("<Q", 1 << 40) + b"{}")


# --- paged_allocator: P, B, W then operations ------------------------------------------
def paged_allocator():
    t = "paged_allocator"
    NEW, APPEND, FREE, FORK, WRITE, ALLOC, REF = 0, 1, 3, 4, 5, 6, 7
    # P = 2, B = 2, W = 2: fill a sequence, fork it, append to both (copy-on-write), free.
    ops = [1, 1, 1, NEW, APPEND, 0, 1, APPEND, 0, 2, FORK, 0, APPEND, 1, 3, APPEND, 0, 3,
           WRITE, 1, 0, 2, FREE, 0, FREE, 0, APPEND, 0, 1]
    write(t, "fork_cow_free", bytes(ops))
    # P = 1, B = 1: run out of blocks.
    write(t, "exhausted", bytes([0, 0, 0, NEW, APPEND, 0, 1, APPEND, 0, 2, NEW, APPEND, 1, 1]))
    # P = 4, B = 2: two sequences with the same tokens share full blocks.
    write(t, "prefix_sharing", bytes([3, 1, 0, NEW, NEW] + [APPEND, 0, 1, APPEND, 0, 2] +
                                     [APPEND, 1, 1, APPEND, 1, 2, WRITE, 1, 1, 3]))
    # The separate allocator: allocate, add a reference, release twice, double free.
    write(t, "allocator", bytes([2, 0, 0, ALLOC, ALLOC, REF, 0, REF, 1, REF, 1, REF, 1,
                                 REF, 4, ALLOC, ALLOC, ALLOC]))


# --- agent_action: model turns ---------------------------------------------------------
def agent_action():
    t = "agent_action"
    write(t, "call", "I need the sum first.\nCALL add(2, 3)\n")
    write(t, "call_nested_parens", "CALL eval((1 + 2) * (3))  \r\n")
    write(t, "answer", "thinking...\nANSWER:   5\t\n")
    write(t, "two_actions", "CALL add(1, 2)\nANSWER: 3\n")
    write(t, "no_action", "I am not sure what to do.\n")
    write(t, "bad_call", "CALL  add(1)\nCALL(x)\n")
    write(t, "unclosed_call", "CALL search(llm internals")
    write(t, "long_name", "CALL " + "x" * 65 + "()")


# --- harness_parsers: what learner binaries print and instructors write ----------------
def harness_parsers():
    t = "harness_parsers"
    write(t, "gtest_list", "Step1_Project.\n  Works\n  DISABLED_Slow\n"
                           "Step2_Scores/0.  # TypeParam = float\n  Shape\n")
    gtest = {"tests": 2, "failures": 1, "disabled": 0, "errors": 0,
             "timestamp": "2026-01-01T00:00:00Z", "time": "0.01s", "name": "AllTests",
             "testsuites": [{"name": "Step1_Softmax", "tests": 2, "failures": 1,
                             "disabled": 0, "errors": 0, "time": "0.01s",
                             "testsuite": [
                                 {"name": "RowsSumToOne", "status": "RUN", "result": "COMPLETED",
                                  "timestamp": "2026-01-01T00:00:00Z", "time": "0s",
                                  "classname": "Step1_Softmax"},
                                 {"name": "Stable", "status": "RUN", "result": "COMPLETED",
                                  "time": "0.01s", "classname": "Step1_Softmax",
                                  "failures": [{"failure": "softmax.cc:12\nC++ exception with "
                                                "description \"llmk::NotImplemented: Softmax\"",
                                                "type": ""}]}]}]}
    write(t, "gtest_json", json.dumps(gtest))
    write(t, "gtest_console", "[ RUN      ] Step1_A.Works\n[       OK ] Step1_A.Works (0 ms)\n"
                              "[ RUN      ] Step1_A.Fails\nx.cc:3: Failure\n"
                              "[  FAILED  ] Step1_A.Fails (1 ms)\n[ RUN      ] Step2_B.Hangs\n")
    bench = {"context": {"date": "2026-01-01", "num_cpus": 2, "library_build_type": "release"},
             "benchmarks": [
                 {"name": "BM_Naive/64", "run_type": "iteration", "iterations": 10,
                  "real_time": 1500.0, "cpu_time": 1490.0, "time_unit": "us"},
                 {"name": "BM_Fast/64", "run_type": "iteration", "iterations": 100,
                  "real_time": 120.0, "cpu_time": 119.0, "time_unit": "ns",
                  "GFLOP/s": 12.5},
                 {"name": "BM_Fast/64_mean", "run_type": "aggregate", "aggregate_name": "mean",
                  "real_time": 121.0, "cpu_time": 120.0, "time_unit": "ns"},
                 {"name": "BM_Broken", "run_type": "iteration", "error_occurred": True,
                  "error_message": "out of memory"}]}
    write(t, "benchmark_json", json.dumps(bench))
    kata = {"name": "02_attention", "title": "Attention", "timeout_seconds": 30,
            "steps": [{"number": 1, "suite": "Step1_Project", "title": "Project",
                       "anchor": "step-1-project", "functions": ["Project"]},
                      {"number": 2, "suite": "Step2_Scores", "title": "Scores",
                       "anchor": "step-2-scores", "functions": ["Scores"]}],
            "performance": [{"what": "fast", "benchmark": "BM_Fast/64",
                             "baseline": "BM_Naive/64", "min_speedup": 1.3},
                            {"what": "flops", "benchmark": "BM_Fast/64", "counter": "GFLOP/s",
                             "min": 5}]}
    write(t, "kata_json", json.dumps(kata))
    assignment = {"schema": "llmk-assignment/1", "title": "Week 2", "integrity": "fail",
                  "katas": [{"kata": "02_attention", "weight": 4, "steps": [1, 2],
                             "time_limit_seconds": 120},
                            {"kata": "09", "weight": 3,
                             "performance": [{"what": "x", "benchmark": "BM_A",
                                              "baseline": "BM_B", "min_speedup": 1.5,
                                              "weight": 1}]}]}
    write(t, "assignment", json.dumps(assignment))
    write(t, "digests", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  "
                        "katas/02_attention/attention_test.cc\n"
                        "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae  "
                        "fixtures/02_attention/single_head.json\n")
    write(t, "ctest_summary", "100% tests passed, 0 tests failed out of 12\n")
    write(t, "hints", "# Hints\n## Step 1: Project\n### Level 1: nudge\nLook at X.\n"
                      "```\n## Step 9: not a heading\n```\n### Level 2: idea\nMultiply.\n")


if __name__ == "__main__":
    for make in (bpe_roundtrip, tiktoken_load, fixture_json, safetensors, paged_allocator,
                 agent_action, harness_parsers):
        make()
