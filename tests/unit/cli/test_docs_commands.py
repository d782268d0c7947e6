"""Every ``omics-toolkit …`` command line in the docs names real commands and options.

The docs are README.md, every Markdown file under docs/ and queries/README.md. A command line is
an ``omics-toolkit`` invocation in a fenced shell code block (every line of a ``bash``/``sh``/
unlabelled block, the ``$ `` lines of a ``console`` block) or in an inline code span. Each is
checked against the real command tree (``typer.main.get_command`` of the CLI's typer app) the way
click parses it: options before a subcommand belong to that group (so global options go before
the command), the subcommand path must exist, every option after the leaf command must be one of
the leaf's, an option that takes a value consumes the next token (or its ``=value``), and no more
positional arguments than the leaf accepts.

Doc notation that is not shell: ``[...]`` optional groups (their contents are checked),
``A|B`` alternatives (each is checked), ``…``/``...`` elisions, ``<name>`` and UPPERCASE
placeholders. Shell around a command is cut off: ``# comment``, ``\\`` continuations, ``$ ``
prompts, ``|``, ``&&``, ``||``, ``;`` and redirections. Lines drawn with box-drawing characters
are diagrams, not commands.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

from omics_toolkit.cli.main import app

REPO = Path(__file__).resolve().parents[3]
PROGRAM = "omics-toolkit"

SHELL_FENCES = {"", "bash", "sh", "shell", "zsh", "console", "shell-session", "sh-session"}
PROMPT_ONLY_FENCES = {"console", "shell-session", "sh-session"}  # other lines are output
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
BOX_DRAWING = re.compile("[\u2500-\u257f]")
SEPARATORS = {"|", "||", "&&", ";", "&", "<", "(", ")"}
REDIRECT = re.compile(r"^(\d*|&)>>?")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
ELLIPSIS = {"…", "..."}
PLACEHOLDER = re.compile(r"^(<[^<>]+>|[A-Z][A-Z0-9_]*(\.\.\.|…)?|…|\.\.\.)$")


def doc_files() -> list[Path]:
    """README.md, docs/**/*.md and queries/README.md, as they exist in the checkout."""
    files = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md")), REPO / "queries/README.md"]
    return [f for f in files if f.is_file()]


# --------------------------------------------------------------------------------- extraction


@dataclass(frozen=True)
class DocCommand:
    """One ``omics-toolkit`` invocation found in a Markdown file.

    ``line`` is 1-based (the first line of a continued or multi-line span); ``text`` the command
    as written (shell around it cut off); ``tokens`` its words, or ``()`` with ``error`` set
    when the text cannot be split into words (unbalanced quotes).
    """

    path: str
    line: int
    text: str
    tokens: tuple[str, ...]
    error: str | None = None


def _cut_comment(text: str) -> str:
    """``text`` up to a ``#`` that starts a word outside quotes (a shell comment)."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i]
    return text


def _commands_in(text: str) -> list[tuple[str, list[str] | None]]:
    """The ``omics-toolkit`` commands of one shell line: ``(text, tokens)`` each.

    The line is split into words (shell quoting), then into simple commands at ``|``, ``&&``,
    ``||``, ``;`` and before redirections; ``VAR=value`` prefixes are skipped. A line that
    cannot be split gives ``(text, None)`` when it mentions the program.
    """
    text = _cut_comment(text).strip()
    try:
        words = shlex.split(text)
    except ValueError:
        return [(text, None)] if PROGRAM in text.split() else []
    found: list[tuple[str, list[str] | None]] = []
    segment: list[str] = []
    redirected = False
    for word in [*words, "|"]:
        if word in SEPARATORS or word.endswith(";"):
            if word.endswith(";") and word != ";" and not redirected:
                segment.append(word[:-1])
            while segment and ASSIGNMENT.match(segment[0]):
                segment.pop(0)
            if len(segment) > 1 and segment[0] == PROGRAM:
                found.append((" ".join(segment), segment))
            segment, redirected = [], False
        elif REDIRECT.match(word):
            redirected = True  # the redirection and its target are not arguments
        elif not redirected:
            segment.append(word)
    return found


def extract_commands(markdown: str, path: str) -> list[DocCommand]:
    """Every ``omics-toolkit`` command line of a Markdown document, in order of lines."""
    lines = markdown.splitlines()
    found: list[DocCommand] = []

    def add(line: int, text: str) -> None:
        for command, tokens in _commands_in(text):
            if tokens is None:
                found.append(DocCommand(path, line, command, (), "unbalanced quotes"))
            else:
                found.append(DocCommand(path, line, command, tuple(tokens)))

    prose: list[tuple[int, str]] = []  # (line number, text) outside fences

    def scan_prose() -> None:
        text = "\n".join(t for _, t in prose)
        for m in CODE_SPAN.finditer(text):
            line = prose[text.count("\n", 0, m.start())][0]
            span = m.group(2).replace("\\|", "|").replace("\n", " ").strip()
            add(line, span[2:] if span.startswith("$ ") else span)
        prose.clear()

    fence: tuple[str, str] | None = None  # (marker, language) of the open fence
    pending: tuple[int, str] | None = None  # a line continued with a backslash
    for number, raw in enumerate(lines, start=1):
        m = FENCE.match(raw)
        if fence is None:
            if m:
                scan_prose()
                fence = (m.group(1), m.group(2).lower())
            elif raw.strip():
                prose.append((number, raw))
            else:
                scan_prose()  # a code span does not cross a blank line
            continue
        if (
            m
            and m.group(1)[0] == fence[0][0]
            and len(m.group(1)) >= len(fence[0])
            and not m.group(2)
        ):
            fence, pending = None, None
            continue
        if fence[1] not in SHELL_FENCES or BOX_DRAWING.search(raw):
            continue
        text = raw.strip()
        if pending is not None:
            start, head = pending
            text, pending = f"{head} {text}", None
        else:
            start = number
            if text.startswith("$ "):
                text = text[2:]
            elif fence[1] in PROMPT_ONLY_FENCES:
                continue
        if text.endswith("\\"):
            pending = (start, text[:-1].rstrip())
            continue
        add(start, text)
    scan_prose()
    return sorted(found, key=lambda c: c.line)


def all_doc_commands() -> list[DocCommand]:
    return [
        command
        for f in doc_files()
        for command in extract_commands(f.read_text(encoding="utf-8"), str(f.relative_to(REPO)))
    ]


# ----------------------------------------------------------------------------------- checking


def root_command() -> Any:
    """The click group of the CLI (typer vendors click, so it is duck-typed here)."""
    return typer.main.get_command(app)


def _options(command: Any) -> dict[str, Any]:
    """Option name (``--x``, ``-x``, ``--no-x``) -> click option, ``--help`` included."""
    params = command.get_params(command.context_class(command))
    return {
        name: p
        for p in params
        if p.param_type_name == "option"
        for name in (*p.opts, *p.secondary_opts)
    }


def _takes_value(option: Any) -> bool:
    return not (option.is_flag or option.count)


def _names(command: Any) -> str:
    return ", ".join(sorted(_options(command))) or "(none)"


def _clean(tokens: tuple[str, ...] | list[str]) -> list[str]:
    """Doc notation off: ``[...]`` brackets stripped, ``…`` elisions marked as ``...``."""
    cleaned = []
    for token in tokens:
        token = token.lstrip("[").rstrip("]")
        if token in ELLIPSIS:
            cleaned.append("...")
        elif token:
            cleaned.append(token)
    return cleaned


def _check_option(
    command: Any, where: str, tokens: list[str], i: int, root: Any, errors: list[str]
) -> int:
    """Check the option word ``tokens[i]`` of ``command``; return the index after it (and its value)."""
    word = tokens[i]
    options = _options(command)
    alternatives = word.split("|") if "|" in word and "=" not in word else [word]
    value_of: Any = None  # the option whose value the next word(s) are
    for alt in alternatives:
        name, eq, _ = alt.partition("=")
        option = options.get(name)
        if option is None and not name.startswith("--") and len(name) > 2:
            option = options.get(name[:2])  # -pVALUE: a short option with its value attached
            if option is not None and not _takes_value(option):
                option = None
            eq = "=" if option is not None else eq
        if option is None:
            hint = ""
            if command is not root and name in _options(root):
                hint = f" ({name} is a global option: put it before the command)"
            errors.append(
                f"`{where}` has no option {name}{hint}; its options are: {_names(command)}"
            )
            continue
        if eq and not _takes_value(option):
            errors.append(f"option {name} of `{where}` is a flag and takes no value")
        if _takes_value(option) and not eq:
            value_of = option
    if value_of is None:
        return i + 1
    nargs = max(1, value_of.nargs)
    if i + nargs >= len(tokens):
        errors.append(f"option {word} of `{where}` needs a value")
    return i + 1 + nargs


def check_command_line(tokens: tuple[str, ...] | list[str], root: Any | None = None) -> list[str]:
    """Why the command line ``tokens`` (``omics-toolkit …``) would not parse; ``[]`` if it would.

    Checks, as click parses: options of each group before its subcommand, the subcommand path,
    the leaf command's options (with their values) and its number of positional arguments.
    Placeholders at a subcommand's position (``COMMAND``, ``<name>``, ``…``) end the check.
    """
    root = root_command() if root is None else root
    words = _clean(tokens)
    if not words or words[0] != PROGRAM:
        return [f"not an {PROGRAM} command line: {shlex.join(words)}"]
    return _check_from(root, [PROGRAM], words, 1, root)


def _check_from(command: Any, path: list[str], words: list[str], i: int, root: Any) -> list[str]:
    errors: list[str] = []
    where = " ".join(path)
    is_group = hasattr(command, "commands")
    if is_group:
        while i < len(words) and words[i].startswith("-") and words[i] != "-":
            i = _check_option(command, where, words, i, root, errors)
        if i >= len(words):
            if not command.invoke_without_command and command is not root:
                errors.append(
                    f"`{where}` needs a subcommand: {', '.join(sorted(command.commands))}"
                )
            return errors
        name = words[i]
        if PLACEHOLDER.match(name):
            return errors
        for alt in name.split("|"):
            sub = command.commands.get(alt)
            if sub is None:
                errors.append(
                    f"`{where}` has no command {alt!r}; its commands are: "
                    f"{', '.join(sorted(command.commands))}"
                )
            else:
                errors += _check_from(sub, [*path, alt], words, i + 1, root)
        return errors
    allowed = sum(
        float("inf") if p.nargs < 0 else p.nargs
        for p in command.params
        if p.param_type_name == "argument"
    )
    positional: list[str] = []
    elided = False
    only_arguments = False
    while i < len(words):
        word = words[i]
        if word == "...":
            elided, i = True, i + 1
        elif word == "--" and not only_arguments:
            only_arguments, i = True, i + 1
        elif word.startswith("-") and word != "-" and not only_arguments:
            i = _check_option(command, where, words, i, root, errors)
        else:
            positional.append(word)
            i += 1
    if len(positional) > allowed and not elided:
        extra = positional[int(allowed) :]
        errors.append(f"`{where}` takes {int(allowed)} argument(s); unexpected: {' '.join(extra)}")
    return errors


# -------------------------------------------------------------------------------------- tests

DOC_COMMANDS = all_doc_commands()


@pytest.mark.parametrize(
    ("path", "line", "command"),
    [(c.path, c.line, c) for c in DOC_COMMANDS],
    ids=[f"{c.path}:{c.line}" for c in DOC_COMMANDS],
)
def test_doc_command_line_is_real(path: str, line: int, command: DocCommand) -> None:
    assert command.error is None, f"{path}:{line}: {command.error}: {command.text}"
    errors = check_command_line(command.tokens)
    assert not errors, f"{path}:{line}: `{command.text}`:\n  " + "\n  ".join(errors)


def test_docs_have_many_command_lines() -> None:
    per_file = {}
    for c in DOC_COMMANDS:
        per_file[c.path] = per_file.get(c.path, 0) + 1
    assert len(DOC_COMMANDS) > 30, per_file
    assert per_file.get("README.md", 0) > 25, per_file
    assert {"docs/workflows.md", "queries/README.md"} <= per_file.keys(), per_file


def readme_run_options() -> list[str]:
    """Setting names of the README's run-options table (``_max_runs`` shorthand expanded).

    Config-file tables (``[run_tags]``) are left out: they have no flag.
    """
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Run options ("))
    names: list[str] = []
    for line in lines[start + 1 :]:
        if names and not line.startswith("|"):
            break
        if not line.startswith("| `"):
            continue
        first = None
        for name in re.findall(r"`([^`]+)`", line.split("|")[1]):
            if name.startswith("["):
                continue
            if name.startswith("_") and first:
                name = first[: first.rindex("_" + name[1:].split("_")[0])] + name
            first = first or name
            names.append(name)
    return names


def test_readme_run_options_are_provision_flags() -> None:
    names = readme_run_options()
    assert "run_group_max_gpus" in names and "log_level" in names, names
    provision = _options(root_command().commands["provision"])
    missing = [n for n in names if "--" + n.replace("_", "-") not in provision]
    assert not missing, f"README run options without a provision flag: {missing}"


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("omics-toolkit query run x", "unexpected: x"),
        ("omics-toolkit provision --no-such-flag", "no option --no-such-flag"),
        ("omics-toolkit runs show 1234567 --json", "--json is a global option"),
        ("omics-toolkit nosuch", "no command 'nosuch'"),
        ("omics-toolkit workflows bogus gatk-germline", "no command 'bogus'"),
        ("omics-toolkit --no-such-global runs", "no option --no-such-global"),
        ("omics-toolkit local", "needs a subcommand"),
        ("omics-toolkit teardown --yes=1", "takes no value"),
        ("omics-toolkit plan --reference", "needs a value"),
        ("omics-toolkit local start --new-customer|--bogus", "no option --bogus"),
        ("omics-toolkit runs show|bogus 1", "no command 'bogus'"),
    ],
)
def test_checker_rejects(line: str, needle: str) -> None:
    errors = check_command_line(shlex.split(line))
    assert any(needle in e for e in errors), errors


@pytest.mark.parametrize(
    "line",
    [
        "omics-toolkit -d mydep --target aws --json runs show 1234567",
        "omics-toolkit --deployment=prod runs",
        "omics-toolkit query --file=sample_summary -p sample=NA12878 --format csv",
        "omics-toolkit query -fsample_summary",
        "omics-toolkit teardown [--yes] [--force-delete-data]",
        "omics-toolkit runs logs RUN [--task NAME_OR_ID] [--engine]",
        "omics-toolkit runs timeline RUN [--out FILE.png|FILE.svg]",
        "omics-toolkit local start --new-customer|--existing-customer",
        "omics-toolkit runs show|logs|cost RUN",
        "omics-toolkit COMMAND --help",
        "omics-toolkit workflows lint a.wdl b/ c.wdl --strict",
        "omics-toolkit query … --format csv",
    ],
)
def test_checker_accepts(line: str) -> None:
    assert check_command_line(shlex.split(line)) == []


def test_extraction() -> None:
    markdown = "\n".join(
        [
            "Run `omics-toolkit runs show NA12878` or `omics-toolkit local",  # 1
            "start`; tags `omics-toolkit:digest` and `omics-toolkit.toml` are no commands.",  # 2
            "```bash",  # 3
            "omics-toolkit runs --json | jq .  # comment",  # 4
            "$ OMICS_TOOLKIT_TARGET=aws omics-toolkit provision \\",  # 5
            "    --storage-type STATIC > out.txt && omics-toolkit doctor",  # 6
            " omics-toolkit CLI ──> core",  # 7: a diagram
            "```",  # 8
            "```console",  # 9
            "$ omics-toolkit -d x workflows list",  # 10
            "omics-toolkit output line, not a command",  # 11
            "```",  # 12
            "```toml",  # 13
            "# omics-toolkit provision --bogus",  # 14
            "```",  # 15
            "| `omics-toolkit runs timeline RUN [--out A.png\\|A.svg]` | x |",  # 16
        ]
    )
    got = [(c.line, list(c.tokens)) for c in extract_commands(markdown, "x.md")]
    assert got == [
        (1, ["omics-toolkit", "runs", "show", "NA12878"]),
        (1, ["omics-toolkit", "local", "start"]),
        (4, ["omics-toolkit", "runs", "--json"]),
        (5, ["omics-toolkit", "provision", "--storage-type", "STATIC"]),
        (5, ["omics-toolkit", "doctor"]),
        (10, ["omics-toolkit", "-d", "x", "workflows", "list"]),
        (16, ["omics-toolkit", "runs", "timeline", "RUN", "[--out", "A.png|A.svg]"]),
    ]
