"""The documentation: its pages exist, its links resolve, it builds with warnings as errors, and
nothing in the repository cites a file outside it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Pages produced while building (sphinx-gallery, autosummary), not written by hand.
GENERATED = ("auto_gallery/", "generated/")
TOCTREE = re.compile(r"^```\{toctree\}\n(.*?)^```", re.S | re.M)
MD_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Citations of files a user of the package does not have.
OUTSIDE = re.compile(
    r"\.\./shared|(?<![/\w])THEORY\.md|(?<![/\w])INTERFACE\.md|\bTHEORY §|\[RECALL\]"
)


def toctree_entries() -> list[tuple[Path, str]]:
    entries = []
    for page in DOCS.glob("*.md"):
        for body in TOCTREE.findall(page.read_text()):
            for line in body.splitlines():
                line = line.strip()
                if line and not line.startswith(":"):
                    entries.append((page, line))
    return entries


def test_every_page_in_a_toctree_exists():
    entries = toctree_entries()
    assert len(entries) >= 10
    for page, entry in entries:
        if entry.startswith(GENERATED) or "*" in entry:
            continue
        found = [DOCS / f"{entry}{suffix}" for suffix in (".md", ".rst")]
        assert any(p.exists() for p in found), f"{page.name}: toctree entry {entry!r} is missing"


def test_every_hand_written_page_is_in_a_toctree():
    listed = {entry for _, entry in toctree_entries()}
    pages = [p for p in _files(DOCS) if p.parent == DOCS and p.suffix in (".md", ".rst")]
    for page in pages:
        if page.stem != "index":
            assert page.stem in listed or any(
                "*" in e and page.stem.startswith(e.rstrip("*")) for e in listed
            ), f"{page.name} is in no toctree"


def test_relative_links_and_images_exist():
    for page in DOCS.glob("*.md"):
        text = page.read_text()
        targets = MD_LINK.findall(text) + re.findall(r"^```\{image\} (\S+)", text, re.M)
        for target in targets:
            if "://" in target or target.startswith(GENERATED):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_gallery_scripts_have_a_title_and_are_listed():
    scripts = sorted((DOCS / "gallery").glob("plot_*.py"))
    assert len(scripts) >= 6
    for script in scripts:
        doc = script.read_text().split('"""')[1].strip().splitlines()
        title, underline = doc[0], doc[1]
        assert set(underline) == {"="} and len(underline) >= len(title), (
            f"{script.name}: sphinx-gallery needs a title underlined with '='"
        )


def test_theory_keeps_the_section_numbering():
    """Code cites "docs/theory.md §x": every section of the numbering must be a heading."""
    headings = re.findall(r"^#+ (§[\d.]+)", (DOCS / "theory.md").read_text(), re.M)
    expected = ["§0", "§1", "§1.1", "§1.2", "§1.3", "§1.4", "§1.5", "§2", "§2.1", "§2.2"]
    expected += ["§2.3", "§2.4", "§3", "§4", "§5", "§5.1", "§5.2", "§5.3", "§5.4"]
    expected += ["§6", "§7", "§8", "§9"]
    assert headings == expected


def _files(*roots: Path) -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        paths = [ROOT / p for p in listed]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]
    paths = [p for p in paths if p.suffix in {".py", ".md", ".rst", ".toml", ".txt", ""}]
    return [p for p in paths if any(p.is_relative_to(r) for r in roots) and p.is_file()]


def _citations(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        if path == Path(__file__).resolve():
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    return found


def test_readme_and_docs_cite_nothing_outside_the_repository():
    found = _citations([ROOT / "README.md", *_files(DOCS)])
    assert not found, "\n".join(found)


def test_nothing_in_the_repository_cites_a_file_outside_it():
    found = _citations(_files(ROOT))
    assert not found, f"{len(found)} citations, e.g.\n" + "\n".join(found[:20])


def _python_blocks():
    fence = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
    for page in sorted(DOCS.glob("*.md")):
        for n, code in enumerate(fence.findall(page.read_text())):
            yield pytest.param(code, id=f"{page.stem}-{n}")


@pytest.mark.slow
@pytest.mark.parametrize("code", list(_python_blocks()))
def test_python_examples_of_the_pages_run(code):
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
def test_docs_build_with_warnings_as_errors(tmp_path):
    """The whole site, gallery examples executed, with ``sphinx-build -W`` (about 1 min)."""
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-E",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(tmp_path / "html"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "html" / "theory.html").exists()
