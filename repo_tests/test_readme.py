"""The README and the docs site: every snippet runs as written, the site builds strictly, the
README stays short and truthful, and every fixture, marker and option is documented."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.S | re.M)
#: What a fence may be tagged with, and how its snippet is checked.
LANGUAGES = {"python", "bash", "sh", "console", "yaml", "text"}


def _blocks(language: str) -> list[tuple[str, str]]:
    """``(id, code)`` of every block of that language in the README and docs/*.md."""
    found = []
    for page in PAGES:
        blocks = [code for lang, code in FENCE.findall(page.read_text()) if lang == language]
        found += [(f"{page.name}-{language}{i}", code) for i, code in enumerate(blocks)]
    return found


PYTHON = _blocks("python")
SCRIPTS = [(i, code) for i, code in PYTHON if not re.search(r"^def test_", code, re.M)]
TESTS = [(i, code) for i, code in PYTHON if re.search(r"^def test_", code, re.M)]


def _ids(blocks: list[tuple[str, str]]) -> list[str]:
    return [i for i, _ in blocks]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_fence_names_a_checked_language(page: Path) -> None:
    languages = {lang for lang, _ in FENCE.findall(page.read_text())}
    assert languages <= LANGUAGES, languages - LANGUAGES


@pytest.mark.parametrize("code", [c for _, c in SCRIPTS], ids=_ids(SCRIPTS))
def test_snippet_runs(code: str) -> None:
    exec(compile(code, "snippet", "exec"), {"__name__": "snippet"})


def _marks(code: str) -> list[pytest.MarkDecorator]:
    """A snippet that needs coturn runs in the turn cell, as the tests marked turn do."""
    return [pytest.mark.turn] if "@pytest.mark.turn" in code else []


@pytest.mark.parametrize(
    "code", [pytest.param(c, marks=_marks(c)) for _, c in TESTS], ids=_ids(TESTS)
)
def test_snippet_passes_as_a_downstream_test(code: str, pytester: pytest.Pytester) -> None:
    if "tokenclient" in code:  # the example client of examples/, as a user's own client
        shutil.copytree(ROOT / "examples" / "tokenclient", pytester.path / "tokenclient")
    pytester.makepyfile(test_snippet=code)
    result = pytester.runpytest()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1, result.stdout.str()
    assert set(outcomes) <= {"passed", "warnings"}, result.stdout.str()


@pytest.mark.parametrize("code", [c for _, c in _blocks("yaml")], ids=_ids(_blocks("yaml")))
def test_yaml_snippet_parses(code: str) -> None:
    assert isinstance(yaml.safe_load(code), dict)


def _commands() -> list[tuple[str, str]]:
    """``relaytokens ...`` command lines shown in shell snippets: (id, subcommand)."""
    found = []
    for lang in ("bash", "sh", "console"):
        for block_id, code in _blocks(lang):
            for line in code.splitlines():
                if lang == "console" and not line.startswith("$ "):
                    continue  # output
                words = line.removeprefix("$ ").split()
                if words[:1] == ["relaytokens"] and len(words) > 1:
                    found.append((f"{block_id}-{words[1]}", words[1]))
    return found


@pytest.mark.parametrize("command", [c for _, c in _commands()], ids=_ids(_commands()))
def test_shell_snippet_commands_exist(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_relaytokens.cli", command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_docs_site_builds_strictly(tmp_path: Path) -> None:
    """Broken links, anchors and pages left out of the navigation fail the build."""
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "architecture" / "index.html").is_file()


def test_readme_is_short_and_links_every_docs_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 300
    for page in PAGES[1:]:
        if page.name != "index.md":  # the site's home page repeats the README's list
            assert f"(docs/{page.name})" in text, page.name
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).is_file(), link


def test_readme_installs_only_from_a_clone_or_the_git_url() -> None:
    """No package index serves the package: never ``pip install pytest-relaytokens`` alone."""
    for page in PAGES:
        for line in page.read_text().splitlines():
            assert not re.search(r"pip install [\"']?pytest-relaytokens(?! @)", line), line
    assert 'pip install "pytest-relaytokens @ git+https://' in README.read_text()


def _plugin_fixtures(pytester: pytest.Pytester) -> set[str]:
    result = pytester.runpytest("--fixtures", "-q")
    out = result.stdout.str()
    sections = re.split(r"^-+ fixtures defined from ", out, flags=re.M)
    section = "".join(s for s in sections if s.startswith("pytest_relaytokens"))
    return {
        m.group(1)
        for m in re.finditer(r"^(\w+)(?: \[\w+ scope\])? -- ", section, re.M)
        if not m.group(1).startswith("_")
    }


def test_every_fixture_marker_and_option_is_documented(pytester: pytest.Pytester) -> None:
    from pytest_relaytokens.pytest_plugin.markers import MARKERS
    from pytest_relaytokens.pytest_plugin.options import OPTIONS

    readme = README.read_text()
    reference = (ROOT / "docs" / "reference.md").read_text()
    fixtures = _plugin_fixtures(pytester)
    assert {"ucwa_api", "relay_api", "relaytokens_clock"} <= fixtures
    for name in fixtures:
        assert f"`{name}`" in readme and f"`{name}`" in reference, name
    for name in MARKERS:
        assert f"`{name}" in readme and f"`{name}" in reference, name
    for name in OPTIONS:
        assert f"--relaytokens-{name.replace('_', '-')}" in reference, name


#: Named in the docs but made by the wheel's build, not kept in the source tree.
BUILT = {"pytest_relaytokens/cassette_library/"}


def _named_paths() -> list[tuple[str, str]]:
    """Source files and folders the README and docs name in backticks, with a folder part
    (``tests/test_x.py``, ``http/service.py``, ``pytest_plugin/``): (page, path)."""
    found = []
    for page in PAGES:
        for path in re.findall(r"`([\w.*-][\w.*/-]*(?:\.py|/))`", page.read_text()):
            if path not in BUILT and ("/" in path.rstrip("/") or path.endswith("/")):
                found.append((page.name, path))
    return sorted(set(found))


@pytest.mark.parametrize(("page", "path"), _named_paths(), ids=[p for _, p in _named_paths()])
def test_named_source_paths_exist(page: str, path: str) -> None:
    """A file or folder the docs point to is where they say (from the repository root, or
    inside the package for the architecture page's short names)."""
    bases = [ROOT, ROOT / "pytest_relaytokens"]
    assert any(list(base.glob(path.rstrip("/"))) for base in bases), f"{page}: {path}"


def _dotted_names() -> list[str]:
    """``pytest_relaytokens.x.y`` names the README and docs give in backticks."""
    names = set()
    for page in PAGES:
        names |= set(re.findall(r"`(pytest_relaytokens(?:\.\w+)+)", page.read_text()))
    return sorted(names)


@pytest.mark.parametrize("name", _dotted_names())
def test_named_modules_and_objects_exist(name: str) -> None:
    """A module moved or an object renamed is a stale page: find the longest importable
    module prefix, then each remaining part as an attribute."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute)
        return
    pytest.fail(f"{name}: no such module")


def _slug(heading: str) -> str:
    """The anchor GitHub gives a README heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_docs_links_into_the_readme_name_its_headings() -> None:
    """The site links to the README by its GitHub URL, which mkdocs cannot check."""
    headings = {_slug(h) for h in re.findall(r"^#+ (.+)$", README.read_text(), re.M)}
    links = [
        (page.name, anchor)
        for page in PAGES[1:]
        for anchor in re.findall(
            r"github\.com/pytest-relaytokens/pytest-relaytokens#([\w-]+)", page.read_text()
        )
    ]
    assert links
    for page, anchor in links:
        assert anchor == "readme" or anchor in headings, (page, anchor)


def test_every_option_the_docs_name_exists(pytester: pytest.Pytester) -> None:
    help_text = pytester.runpytest("--help").stdout.str()
    named = set()
    for page in PAGES:
        named |= set(re.findall(r"--relaytokens-[a-z-]*[a-z]", page.read_text()))
    assert len(named) > 10
    for option in sorted(named):
        assert option in help_text, option
