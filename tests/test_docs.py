"""The README a newcomer reads, and the links between the project's markdown pages.

- README.md stays short: what Impasto is, how to try it, where to read more (docs/ has the rest);
- every relative link in the project's markdown points to a file of the repository, and a
  `#anchor` into a markdown file names one of its headings (GitHub's rule for heading anchors);
- the README's test command is the one CI runs.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_LIMIT = 10_000

# The pages whose links are checked, as globs from the repository root.
LINKED_PAGES = (
    "README.md",
    "docs/*.md",
    "plugins/*/README.md",
    "protocol/*.md",
    "installers/README.md",
    "benchmarks/*.md",
    "RELIABILITY.md",
)

# [text](target) and ![alt](target), the target up to whitespace or ')'; an optional "title".
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# [label]: target reference definitions.
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def pages() -> list[Path]:
    found: set[Path] = set()
    for pattern in LINKED_PAGES:
        found.update(ROOT.glob(pattern))
    return sorted(found)


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    body = prose(text)
    return LINK.findall(body) + REFERENCE.findall(body)


def is_external(target: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target)) or target.startswith("//")


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, spaces to '-', punctuation but '-' and '_' gone."""
    text = re.sub(r"`|\*\*|__", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading: its text
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor, with GitHub's -1, -2 ... for repeated ones."""
    seen: dict[str, int] = {}
    result: set[str] = set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = anchor(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def tracked() -> set[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    files = {name for name in listing.split("\0") if name}
    folders = {str(Path(name).parent) for name in files}
    while True:
        parents = {str(Path(folder).parent) for folder in folders} - folders
        if not parents:
            break
        folders |= parents
    return files | folders


def test_the_readme_is_short() -> None:
    size = len(README.read_text(encoding="utf-8"))
    assert size < README_LIMIT, f"README.md has {size} characters; the reference goes in docs/"


def test_the_anchor_rule() -> None:
    assert anchor("Remote use, with keys") == "remote-use-with-keys"
    assert anchor("`impasto stylize`") == "impasto-stylize"
    assert anchor("8.2 Previews: latest wins") == "82-previews-latest-wins"
    assert anchor("Trained styles: what `impasto train` reaches") == (
        "trained-styles-what-impasto-train-reaches"
    )


@pytest.mark.parametrize("page", pages(), ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_point_into_the_repository(page: Path) -> None:
    files = tracked()
    broken: list[str] = []
    for target in links(page.read_text(encoding="utf-8")):
        if is_external(target):
            continue
        path_part, _, fragment = target.partition("#")
        if path_part:
            resolved = (page.parent / path_part).resolve()
            try:
                relative = resolved.relative_to(ROOT).as_posix()
            except ValueError:
                broken.append(f"{target}: outside the repository")
                continue
            if relative not in files and relative != ".":
                broken.append(f"{target}: no such file in the repository")
                continue
        else:
            resolved = page
        if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading #{fragment} in {resolved.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)


def test_the_pages_mention_no_files_outside_the_repository() -> None:
    for page in [README, *ROOT.glob("docs/*.md")]:
        assert "../shared" not in page.read_text(encoding="utf-8"), page


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_commands = [
        line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert "make test" in ci_commands, "CI no longer runs `make test`"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test:.*\n\t.*pytest", makefile, re.M), "`make test` no longer runs pytest"
    readme = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", readme, re.M | re.S)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    assert "make test" in commands, "README.md's commands have no `make test`"
    assert "make demo" in commands, "README.md's commands have no `make demo`"


def layout_entries() -> list[tuple[str, list[str]]]:
    """docs/layout.md's block: each path that starts a line, and the .py files named after it."""
    text = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    block = re.search(r"^```\n(.*?)^```", text, re.M | re.S)
    assert block, "docs/layout.md has no layout block"
    entries: list[tuple[str, list[str]]] = []
    for line in block.group(1).splitlines():
        if line and not line[0].isspace():
            path, _, rest = line.partition(" ")
            entries.append((path, []))
        else:
            rest = line
        if entries:
            entries[-1][1].extend(re.findall(r"\b([\w/]+\.py)\b", rest))
    return entries


def test_the_layout_names_files_that_exist() -> None:
    files = tracked()
    missing: list[str] = []
    for path, modules in layout_entries():
        for part in path.split(","):
            part = part.strip().rstrip("/")
            if part and part not in files:
                missing.append(part)
        folder = path.split(",")[0].strip().rstrip("/")
        for module in modules:
            if not any(f.startswith(f"{folder}/") and f.endswith(f"/{module}") for f in files):
                missing.append(f"{folder}/.../{module}")
    assert not missing, f"docs/layout.md names what the tree lacks: {missing}"


def test_the_engine_page_names_engine_files_that_exist() -> None:
    engine = "daemon/impasto/engine/"
    files = {f for f in tracked() if f.startswith(engine)}
    text = (ROOT / "docs" / "engine.md").read_text(encoding="utf-8")
    missing = [
        name
        for name in re.findall(r"`(\w+/|[\w/]+\.py)`", text)  # `losses.py`, `fast/`
        if not any(f.endswith("/" + name.rstrip("/")) for f in files)
    ]
    assert not missing, f"docs/engine.md names engine files the tree lacks: {missing}"
