"""The book as a site: configuration, environment, API reference and the built pages in a browser.

The tests that need the built book (``_build/html``, from ``make book``) or a browser (Debian's
chromium + chromium-driver and the selenium package) skip when those are missing, unless
GANCORE_REQUIRE_BROWSER=1 (CI sets it), which turns a missing piece into a failure. Screenshots of
every page go to pytest's tmp path and, when GANCORE_SCREENSHOTS names a directory, there too.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

import browser

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
REQUIRE = os.environ.get("GANCORE_REQUIRE_BROWSER") == "1"

# The API reference documents every gancore module but these (the CLI has its own page).
NOT_IN_API = {"cli", "__main__", "checkpoint"}


def _api_modules() -> list[str]:
    import pkgutil

    import gancore

    return sorted(
        info.name for info in pkgutil.iter_modules(gancore.__path__)
        if info.name not in NOT_IN_API and not info.name.startswith("_")
    )


def _load_yaml(name: str):
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def _toc_entries() -> list[tuple[str, str]]:
    """(part caption, file) for every page of _toc.yml, the root first."""
    toc = _load_yaml("_toc.yml")
    entries = [("root", toc["root"])]
    for part in toc.get("parts", []):
        entries += [(part.get("caption", ""), chapter["file"]) for chapter in part.get("chapters", [])]
    return entries


def _source(entry: str) -> Path:
    for suffix in (".ipynb", ".md"):
        path = ROOT / (entry + suffix)
        if path.exists():
            return path
    raise FileNotFoundError(f"{entry} (.ipynb or .md) listed in _toc.yml does not exist")


def _first_heading(path: Path) -> str:
    """The text of the first level-1 heading of a notebook or MyST page, markup removed."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        lines = [line for cell in cells if cell["cell_type"] == "markdown"
                 for line in "".join(cell["source"]).splitlines()]
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines:
        if line.startswith("# "):
            text = re.sub(r"\$([^$]*)\$", r"\1", line[2:])
            return re.sub(r"[`*_]", "", text).strip()
    raise AssertionError(f"{path} has no '# ' heading")


def _require(reason: str | None) -> None:
    if reason is None:
        return
    if REQUIRE:
        pytest.fail(f"GANCORE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def _site_missing(page: str = "index") -> str | None:
    path = HTML / f"{page}.html"
    return None if path.exists() else f"{path.relative_to(ROOT)} is missing; run `make book` first"


# ---------------------------------------------------------------- configuration and environment


def _requirement_set(lines) -> dict[str, str]:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    out = {}
    for line in lines:
        req = Requirement(line)
        out[canonicalize_name(req.name)] = str(req.specifier)
    return out


def test_environment_yml_matches_pyproject_extras():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    wanted = _requirement_set(extras["book"] + extras["test"])

    env = _load_yaml("environment.yml")
    pip_lists = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict) and "pip" in dep]
    assert len(pip_lists) == 1, "environment.yml should have exactly one pip: list"
    pip = pip_lists[0]
    assert "-e ." in pip, "environment.yml must install the package itself (pip: - -e .)"
    assert "pip" in env["dependencies"]
    listed = _requirement_set(line for line in pip if not line.startswith("-"))
    assert listed == wanted, (
        "environment.yml's pip list and pyproject.toml's book+test extras differ:\n"
        f"  only in environment.yml: {sorted(set(listed.items()) - set(wanted.items()))}\n"
        f"  only in pyproject.toml:  {sorted(set(wanted.items()) - set(listed.items()))}"
    )

    pythons = [dep for dep in env["dependencies"] if isinstance(dep, str) and dep.startswith("python")]
    assert len(pythons) == 1
    from packaging.specifiers import SpecifierSet

    version = pythons[0].split("=", 1)[1].lstrip("=")
    assert version in SpecifierSet(project["requires-python"]), f"python {version} vs {project['requires-python']}"


def test_config_names_the_repository_once_and_launches_colab():
    config = _load_yaml("_config.yml")
    assert config["only_build_toc_files"] is True
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    assert config["repository"] == {
        "url": "https://github.com/gan-training-book/gancore", "branch": "main", "path_to_book": "",
    }
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    text = (ROOT / "_config.yml").read_text(encoding="utf-8")
    assert text.count("github.com/gan-training-book/gancore") == 1


def test_toc_pages_exist_and_chapters_are_notebooks():
    entries = _toc_entries()
    assert entries[0] == ("root", "book/intro")
    for caption, entry in entries:
        path = _source(entry)
        if caption == "Chapters":
            assert path.suffix == ".ipynb", f"chapter {entry} should be a notebook"
    files = [entry for _, entry in entries]
    assert len(files) == len(set(files)), "a page is listed twice in _toc.yml"
    assert "book/bibliography" in files and "book/api" in files


def test_every_citation_has_a_bib_entry():
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = re.findall(r"^@\w+\{([^,\s]+),", bib, flags=re.M)
    assert len(keys) == len(set(keys)), "duplicate keys in references.bib"
    for entry in re.split(r"^@", bib, flags=re.M)[1:]:
        for field in ("title", "author", "year"):
            assert re.search(rf"^\s*{field}\s*=", entry, flags=re.M), f"{entry.split(',')[0]} lacks {field}"
    cited = set()
    for _, entry in _toc_entries():
        text = _source(entry).read_text(encoding="utf-8")
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]*)`", text):
            cited.update(key.strip() for key in group.split(","))
    assert cited <= set(keys), f"cited but not in references.bib: {sorted(cited - set(keys))}"


def test_cli_page_mentions_every_flag():
    from gancore.cli import build_parser

    page = (ROOT / "book" / "cli.md").read_text(encoding="utf-8")
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for command, sub in subparsers.choices.items():
        assert f"gancore {command}" in page
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert f"`{flag}" in page or f" {flag} " in page or f"{flag} " in page, (
                        f"book/cli.md does not mention `gancore {command} {flag}`"
                    )


# ---------------------------------------------------------------- the built site


def test_api_reference_documents_every_public_name():
    _require(_site_missing("book/api"))
    html = (HTML / "book" / "api.html").read_text(encoding="utf-8")
    documented = set(re.findall(r'id="(gancore\.[\w.]+)"', html))
    page = (ROOT / "book" / "api.md").read_text(encoding="utf-8")
    missing = [f"gancore.{name} (no automodule)" for name in _api_modules()
               if f".. automodule:: gancore.{name}\n" not in page]
    for name in _api_modules():
        module = importlib.import_module(f"gancore.{name}")
        public = getattr(module, "__all__", None) or [
            attr for attr, value in vars(module).items()
            if not attr.startswith("_") and getattr(value, "__module__", None) == module.__name__
        ]
        missing += [f"gancore.{name}.{attr}" for attr in public if f"gancore.{name}.{attr}" not in documented]
    assert not missing, f"not in the API reference: {missing}"
    # signatures and docstrings are rendered, not just the names
    assert 'id="gancore.train.fit"' in html and "sig-param" in html


PAGES = [(caption, entry) for caption, entry in _toc_entries() if caption in ("root", "Chapters")]


@pytest.fixture(scope="module")
def driver():
    _require(_site_missing())
    _require(browser.missing_browser())
    with browser.chromium() as chromium:
        yield chromium


@pytest.mark.parametrize("caption,entry", PAGES, ids=[entry.split("/")[-1] for _, entry in PAGES])
def test_page_in_browser(driver, caption, entry, tmp_path):
    _require(_site_missing(entry))
    source = _source(entry)
    name = entry.split("/")[-1]
    driver.get((HTML / f"{entry}.html").as_uri())
    browser.wait_until_loaded(driver)

    # a screenshot first, so that a failing page can be looked at
    shot = browser.save_full_page_screenshot(driver, tmp_path / f"{name}.png")
    if os.environ.get("GANCORE_SCREENSHOTS"):
        shutil.copy(shot, Path(os.environ["GANCORE_SCREENSHOTS"]) / f"{name}.png")

    title = _first_heading(source)
    headings = [h.text for h in driver.find_elements("css selector", "main h1, article h1")]
    assert any(title in h for h in headings), f"{entry}: no <h1> with {title!r} (found {headings})"
    assert title in driver.title

    assert not browser.broken_images(driver), f"{entry}: images did not load: {browser.broken_images(driver)}"
    assert not browser.widgets_without_image(driver), (
        f"{entry}: widget outputs without a static figure beside them: {browser.widgets_without_image(driver)}"
    )

    if source.suffix == ".ipynb":
        config = _load_yaml("_config.yml")
        repo = config["repository"]["url"].removeprefix("https://github.com/").strip("/")
        branch = config["repository"]["branch"]
        book = config["repository"]["path_to_book"].strip("/")
        path = "/".join(part for part in (book, f"{entry}.ipynb") if part)
        expected = f"{config['launch_buttons']['colab_url']}/github/{repo}/blob/{branch}/{path}"
        assert expected.endswith(f"/blob/main/book/{name}.ipynb")
        links = [a.get_attribute("href") for a in driver.find_elements("css selector", "a[href*='colab']")]
        assert expected in links, f"{entry}: no Colab launch link to {expected} (found {links})"
