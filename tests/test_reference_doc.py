"""magenta_rnn/REFERENCE.md, the project's own reference of the original's formats and numbers:
every `REFERENCE.md "Section"` citation in the code, tests, scripts and README names one of its
headings, and no citation of a document outside the repository is left."""
import pathlib
import re

import magenta_rnn

ROOT = pathlib.Path(__file__).resolve().parent.parent
REFERENCE = pathlib.Path(magenta_rnn.__file__).parent / 'REFERENCE.md'
# `REFERENCE.md "A", "B"`, possibly wrapped over lines (and comment markers).
CITATION = re.compile(r'REFERENCE\.md\s+("[^"]+"(?:,\s*(?:#\s*)?"[^"]+")*)')


def _cited_files() -> list[pathlib.Path]:
    files = [ROOT / 'README.md']
    for folder in ('magenta_rnn', 'tests', 'scripts'):
        files += (ROOT / folder).rglob('*.py')
    return [path for path in files if path.name != pathlib.Path(__file__).name]


def _headings() -> set[str]:
    return {line.lstrip('#').strip() for line in REFERENCE.read_text().splitlines()
            if line.startswith('#')}


def test_every_cited_section_is_a_heading():
    headings = _headings()
    cited: dict[str, list[str]] = {}
    for path in _cited_files():
        for match in CITATION.finditer(path.read_text()):
            for name in re.findall(r'"([^"]+)"', match.group(1)):
                cited.setdefault(name, []).append(path.name)
    assert len(cited) > 40, sorted(cited)
    missing = {name: files for name, files in cited.items() if name not in headings}
    assert not missing, missing


def test_no_citation_of_a_document_outside_the_repository():
    stale = [f'{path.relative_to(ROOT)}:{number}'
             for path in _cited_files()
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if '§' in line or 'magenta_facts' in line]
    assert not stale, stale


def test_section_names_are_unique():
    names = [line.lstrip('#').strip() for line in REFERENCE.read_text().splitlines()
             if line.startswith('#')]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
