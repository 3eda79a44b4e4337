"""docs/semantics.md is the reference behind every "§" users see: each section cited in the
README, the docs, the package (messages, docstrings), the shipped scenarios and notebooks
must be a heading there, its table of contents must lead to real headings, and it must
not send the reader outside the repository."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "semantics.md"
CITATION = re.compile(r"§\s?(\d+(?:\.\d+)*)")
HEADING = re.compile(r"^#{2,6} §(\d+(?:\.\d+)*) ", re.MULTILINE)


def user_facing_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "flowsim").rglob("*.py")),
             *sorted((ROOT / "scenarios").glob("*.yaml")), *sorted((ROOT / "notebooks").glob("*.ipynb"))]
    return [f for f in files if f.is_file()]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation (``§``, ``.``, ``,``)
    dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_cited_section_is_a_heading():
    sections = set(HEADING.findall(DOC.read_text(encoding="utf-8")))
    missing = []
    for path in user_facing_files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            missing += [f"{path.relative_to(ROOT)}:{n}: §{s}" for s in CITATION.findall(line) if s not in sections]
    assert not missing, "sections cited but not in docs/semantics.md:\n" + "\n".join(missing)


def test_contents_links_lead_to_headings_and_nothing_leaves_the_repository():
    text = DOC.read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    anchors = {github_slug(h) for h in re.findall(r"^#{1,6} (.*)$", prose, re.MULTILINE)}
    links = re.findall(r"\]\(([^)]*)\)", text)
    assert len(links) > 30
    assert [link for link in links if not link.startswith("#") or link[1:] not in anchors] == []
    assert not re.search(r"https?://|\.\./shared", text)
