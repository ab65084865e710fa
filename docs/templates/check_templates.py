#!/usr/bin/env python3
"""Checks docs/templates/github-actions-grade.yml against the repository.

The workflow is not run here, so this makes sure it still parses and still
says what the harness offers: it is read with a small parser for the part of
YAML it uses (block mappings and sequences, plain and quoted scalars, literal
blocks), then its job is checked (the Debian 12 container, the checkouts,
the summary, the artifact, the failing step) and every `./kata` command in it
is checked against the flags harness/kata/main.cc declares.

    check_templates.py ROOT
"""
import re
import shlex
import sys


class YamlError(Exception):
    pass


def _scalar(text, number):
    text = text.strip()
    if text[:1] in "[{&*!>":
        raise YamlError(f"line {number}: unsupported YAML construct: {text}")
    if text[:1] in "'\"":
        if len(text) < 2 or text[-1] != text[0]:
            raise YamlError(f"line {number}: unterminated quoted string: {text}")
        return text[1:-1]
    return text


def _strip_comment(text):
    # A comment starts at " #" outside quotes; the workflow's values have no "#".
    match = re.search(r"(^|\s)#", text)
    return text[: match.start()].rstrip() if match else text.rstrip()


def parse_yaml(text):
    """Parses the YAML subset the template uses into dicts, lists and strings."""
    lines = []
    for number, raw in enumerate(text.split("\n"), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlError(f"line {number}: tab in the indentation")
        lines.append((number, raw))
    position = 0

    def skip_blank():
        nonlocal position
        while position < len(lines):
            stripped = lines[position][1].strip()
            if stripped and not stripped.startswith("#"):
                return
            position += 1

    def indent_of(raw):
        return len(raw) - len(raw.lstrip(" "))

    def literal_block(parent_indent):
        nonlocal position
        body = []
        block_indent = None
        while position < len(lines):
            number, raw = lines[position]
            if raw.strip() == "":
                body.append("")
                position += 1
                continue
            indent = indent_of(raw)
            if indent <= parent_indent:
                break
            if block_indent is None:
                block_indent = indent
            if indent < block_indent:
                raise YamlError(f"line {number}: literal block indentation")
            body.append(raw[block_indent:])
            position += 1
        return "\n".join(body).rstrip("\n") + "\n"

    def value_after_key(rest, indent, number):
        """The value of `key:` whose text after the colon is `rest`."""
        nonlocal position
        rest = _strip_comment(rest).strip()
        if rest == "|":
            return literal_block(indent)
        if rest:
            return _scalar(rest, number)
        skip_blank()
        if position < len(lines) and indent_of(lines[position][1]) > indent:
            return block(indent_of(lines[position][1]))
        if (position < len(lines) and indent_of(lines[position][1]) == indent and
                lines[position][1].lstrip().startswith("- ")):
            return block(indent)  # a sequence may sit at its key's indentation
        return None

    def mapping_entry(content, indent, number, into):
        match = re.match(r"([A-Za-z0-9_.\-]+):(\s.*|)$", content)
        if not match:
            raise YamlError(f"line {number}: expected 'key: value', got: {content}")
        key = match.group(1)
        if key in into:
            raise YamlError(f"line {number}: duplicate key {key}")
        into[key] = value_after_key(match.group(2), indent, number)

    def block(indent):
        nonlocal position
        skip_blank()
        number, raw = lines[position]
        is_sequence = raw.lstrip().startswith("- ") or raw.strip() == "-"
        result = [] if is_sequence else {}
        while True:
            skip_blank()
            if position >= len(lines):
                return result
            number, raw = lines[position]
            current = indent_of(raw)
            if current < indent:
                return result
            if current > indent:
                raise YamlError(f"line {number}: unexpected indentation")
            content = raw.strip()
            if is_sequence != content.startswith("-"):
                if is_sequence:
                    return result  # the mapping that holds this sequence goes on
                raise YamlError(f"line {number}: a sequence item inside a mapping")
            position += 1
            if not is_sequence:
                mapping_entry(content, indent, number, result)
                continue
            item_text = content[1:].strip()
            if re.match(r"[A-Za-z0-9_.\-]+:(\s|$)", item_text):
                item = {}
                item_indent = indent + 2
                mapping_entry(item_text, item_indent, number, item)
                while True:
                    skip_blank()
                    if position >= len(lines) or indent_of(lines[position][1]) != item_indent:
                        break
                    number, raw = lines[position]
                    position += 1
                    mapping_entry(raw.strip(), item_indent, number, item)
                result.append(item)
            else:
                result.append(_scalar(_strip_comment(item_text), number))

    skip_blank()
    document = block(0)
    skip_blank()
    if position < len(lines):
        raise YamlError(f"line {lines[position][0]}: text after the document")
    return document


def declared_flags(main_cc):
    return set(re.findall(r"ABSL_FLAG\(\s*[^,]+,\s*([a-z_]+)\s*,", main_cc))


def declared_formats(main_cc):
    match = re.search(r'ABSL_FLAG\(\s*std::string,\s*format,\s*"[^"]*",\s*"([^"]*)"', main_cc)
    if not match:
        return set()
    return set(re.findall(r"[a-z]+", match.group(1).split(":", 1)[-1])) - {"or"}


def kata_commands(script):
    """Every `./kata ...` command of a run script, continuation lines joined."""
    joined = script.replace("\\\n", " ")
    commands = []
    for line in joined.split("\n"):
        line = line.strip()
        at = line.find("./kata ")
        if at < 0:
            continue
        words = shlex.split(line[at:].split("||")[0])
        commands.append(words)
    return commands


def check(root):
    problems = []
    template = f"{root}/docs/templates/github-actions-grade.yml"
    workflow = parse_yaml(open(template, encoding="utf-8").read())
    main_cc = open(f"{root}/harness/kata/main.cc", encoding="utf-8").read()
    launcher = open(f"{root}/kata", encoding="utf-8").read()
    flags = declared_flags(main_cc)
    formats = declared_formats(main_cc)

    def expect(condition, message):
        if not condition:
            problems.append(message)

    expect(isinstance(workflow, dict), "the workflow is not a mapping")
    triggers = workflow.get("on") or {}
    expect("push" in triggers and "pull_request" in triggers,
           "it must run on push and pull_request")
    jobs = workflow.get("jobs") or {}
    expect(len(jobs) == 1, f"expected one job, found {sorted(jobs)}")
    job = next(iter(jobs.values())) if jobs else {}
    expect(job.get("container") == "debian:12", "the job must run in container debian:12")
    expect(job.get("runs-on") == "ubuntu-latest", "the job must run on ubuntu-latest")
    steps = job.get("steps") or []
    expect(all(isinstance(s, dict) and ("run" in s or "uses" in s) for s in steps),
           "every step needs run or uses")
    uses = [s.get("uses", "") for s in steps]
    checkouts = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    expect(len(checkouts) == 2, "two checkouts: the learner's and the instructor's copy")
    instructor = [s for s in checkouts if (s.get("with") or {}).get("repository")]
    expect(len(instructor) == 1, "one checkout of the instructor's repository (with: repository)")
    instructor_path = (instructor[0].get("with") or {}).get("path", "") if instructor else ""
    expect(bool(instructor_path), "the instructor's checkout needs its own path")
    expect(any(u.startswith("actions/upload-artifact@") for u in uses),
           "the reports are uploaded with actions/upload-artifact")
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    uploaded = (uploads[0].get("with") or {}).get("path", "") if uploads else ""
    expect("grade.xml" in uploaded and "grade.html" in uploaded,
           "grade.xml and grade.html are uploaded")

    scripts = [s.get("run", "") for s in steps]
    all_runs = "\n".join(scripts)
    expect("$GITHUB_STEP_SUMMARY" in all_runs, "the markdown goes to $GITHUB_STEP_SUMMARY")
    expect(steps and "if" not in steps[-1] and "run" in steps[-1],
           "the last step fails the job when the grade does not pass (no if:)")

    commands = [c for script in scripts for c in kata_commands(script)]
    outs = {}
    for words in commands:
        expect(len(words) >= 2 and words[1] == "grade", f"unexpected kata command: {words}")
        options = {}
        for index, word in enumerate(words[2:], 2):
            if word.startswith("--"):
                name, _, value = word[2:].partition("=")
                if not value and index + 1 < len(words):
                    value = words[index + 1]
                expect(name in flags, f"./kata {' '.join(words[1:])}: main.cc has no flag --{name}")
                options[name] = value
        fmt = options.get("format", "text")
        expect(fmt in formats, f"--format {fmt} is not one that main.cc offers ({sorted(formats)})")
        expect(options.get("assignment", "").startswith(instructor_path + "/"),
               f"--assignment must come from the instructor's copy: {words}")
        expect(options.get("digests", "").startswith(instructor_path + "/"),
               f"--digests must come from the instructor's copy: {words}")
        outs[fmt] = options.get("out", "")
    expect(outs.get("junit") == "grade.xml", "a junit grade written to grade.xml")
    expect(outs.get("markdown") == "grade.md", "a markdown grade written to grade.md")
    expect(outs.get("html") == "grade.html", "an html grade written to grade.html")

    # What the workflow relies on in the launcher.
    expect("LLMK_PRESET" in launcher, "the launcher no longer reads LLMK_PRESET")
    expect("apt-get install" in launcher, "the launcher no longer installs Debian packages")
    preset = (job.get("env") or {}).get("LLMK_PRESET", "")
    presets = open(f"{root}/CMakePresets.json", encoding="utf-8").read()
    expect(not preset or f'"name": "{preset}"' in presets,
           f"LLMK_PRESET {preset} is not a preset of CMakePresets.json")
    return problems


def self_test():
    """The parser and the checks can fail: broken inputs are rejected."""
    for broken in ("a: 1\n  b: 2\n", "a:\n- 1\n  - 2\n", "a: [1, 2]\n", "a: 1\na: 2\n",
                   "a:\n\tb: 1\n", "just text\n"):
        try:
            parse_yaml(broken)
        except YamlError:
            continue
        return f"the parser accepted broken YAML: {broken!r}"
    parsed = parse_yaml("a:\n  b: 'x'\n  c:\n    - d: 1\n      e: |\n        l1\n        l2\n"
                        "    - f\n")
    if parsed != {"a": {"b": "x", "c": [{"d": "1", "e": "l1\nl2\n"}, "f"]}}:
        return f"the parser read a known document wrong: {parsed}"
    return None


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_templates.py ROOT")
    problem = self_test()
    if problem:
        sys.exit(f"check_templates: {problem}")
    try:
        problems = check(sys.argv[1])
    except (OSError, YamlError) as error:
        sys.exit(f"check_templates: {error}")
    for problem in problems:
        print(f"check_templates: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print("check_templates: docs/templates/github-actions-grade.yml is well-formed and names "
          "only commands and flags the harness has")


if __name__ == "__main__":
    main()
