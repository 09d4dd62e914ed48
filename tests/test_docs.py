"""The user documentation: the README's size and sections, links that resolve, no outside design
notes cited.

These read files only (no fits): the README's examples are run by hand against the shipped
posteriors when they change; here their Python blocks are only parsed.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PACKAGE = REPO / "src" / "bayes_distill"
#: The Markdown files whose relative links must resolve.
LINKED_DOCS = (
    README,
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "benchmarks" / "README.md",
    REPO / "data" / "README.md",
)
README_MAX_LINES = 250

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$", re.M)


def section(text: str, title: str) -> str:
    """The body of the ``## title`` section of a Markdown text, up to the next ``##``."""
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no '## {title}' section"
    return match.group(1)


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file (lower case, punctuation dropped,
    spaces to hyphens)."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    slugs = set()
    for _, title in _HEADING.findall(text):
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


def test_readme_is_short():
    n_lines = len(README.read_text().splitlines())
    assert n_lines <= README_MAX_LINES, f"README.md has {n_lines} lines (at most 250)"


def test_readme_says_how_to_fit_your_own_runs_for_both_laws():
    own = section(README.read_text(), "Your own runs")
    for word in ("`N`", "`D`", "`loss`", "N_S", "D_S", "L_T", "L_S", "N_T", "D_T"):
        assert word in own, f"'Your own runs' does not mention {word}"
    for call in ("bd.load_runs(", "bd.fit(", "supervised_runs=", "bd.recommend("):
        assert call in own, f"'Your own runs' does not show {call}"


def test_readme_architecture_names_every_module():
    arch = section(README.read_text(), "Architecture")
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    missing = [m for m in modules if not re.search(rf"^\s+{re.escape(m)}\s", arch, re.M)]
    assert not missing, f"README 'Architecture' does not describe {missing}"


def test_readme_python_examples_parse():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks
    for block in blocks:
        ast.parse(block)


@pytest.mark.parametrize("doc", LINKED_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc):
    broken = []
    for target in _LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not checked here
            continue
        file_part, _, anchor = target.partition("#")
        path = (doc.parent / file_part).resolve() if file_part else doc
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(target)
    assert not broken, f"{doc.relative_to(REPO)}: links that do not resolve: {broken}"


def test_no_tracked_file_cites_the_outside_design_notes():
    # The design notes live beside the project, not in it; spelt in two parts so that this
    # file does not cite them itself.
    name = "DESIGN" + ".md"
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listed = subprocess.run(
        [git, "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
    )
    citing = [
        rel
        for rel in listed.stdout.decode().split("\0")
        if rel and (REPO / rel).is_file() and name.encode() in (REPO / rel).read_bytes()
    ]
    assert not citing, f"{name} is cited in {citing}"
