"""The package's import graph keeps the house's shape: the TensorFlow-free core at the bottom,
the dataset pipelines above it, the one engine (rnn) above them, thin models on top, and the
Python API over the models.

The graph is read from the source with `ast`; nothing is imported. Every `import` statement
counts, at the top of a module or inside a function (a lazy import still ties the two
modules together), with one exception: imports under `if TYPE_CHECKING:` never run, so they
are left out of the cycle check; they still count for the layering rules (the core must not
even name a type from above it). `import a.b.c` is an edge to a.b.c only, although Python
also runs a/__init__ and a/b/__init__: counting those would make every package whose
__init__ gathers its submodules a cycle with each of them.

The last checks: no module of the package or of scripts/ uses another module's private
(`_name`) names; such a name is shared and should be public, or live where it is used.

Print the graph (one line per package and what it imports; `--modules` for every module),
then anything these tests would fail on:

    python tests/test_import_graph.py
    python tests/test_import_graph.py --modules
"""
from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = 'magenta_rnn'

CORE = 'magenta_rnn.music'
# All the core may import of the package: itself and the generated protos.
CORE_MAY_IMPORT = (CORE, 'magenta_rnn.protobuf')
PIPELINES = 'magenta_rnn.pipelines'
ENGINE = ('magenta_rnn.rnn', 'magenta_rnn.engine')
MODELS = ('magenta_rnn.melody', 'magenta_rnn.drums', 'magenta_rnn.performance',
          'magenta_rnn.music_vae')
API = 'magenta_rnn.api'

# Cycles being taken apart elsewhere, each with the reason it may stand for now. A cycle not
# listed here fails the test; a listed one that is gone is simply not found.
# (MusicVAE's converters were one: music_vae/converters/ is now a package without it.)
KNOWN_CYCLES: set[tuple[str, ...]] = set()


@dataclass(frozen=True)
class Edge:
    source: str       # importing module, e.g. magenta_rnn.music.melodies
    target: str       # imported module inside the package, or a third-party top-level name
    line: int
    type_checking: bool


def module_files() -> dict[str, str]:
    """{dotted module name: path} for every .py file under magenta_rnn/."""
    modules = {}
    for directory, _, files in os.walk(os.path.join(ROOT, PACKAGE)):
        for file in files:
            if not file.endswith('.py'):
                continue
            path = os.path.join(directory, file)
            parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
            if parts[-1] == '__init__':
                parts = parts[:-1]
            modules['.'.join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING')
            or (isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING'))


def _imports(tree: ast.AST) -> Iterator[tuple[ast.stmt, bool]]:
    """Every Import/ImportFrom node, with whether it sits under `if TYPE_CHECKING:`."""
    def walk(node: ast.AST, type_checking: bool) -> Iterator[tuple[ast.stmt, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, type_checking
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for statement in child.body:
                    yield from walk(ast.Module(body=[statement], type_ignores=[]), True)
                for statement in child.orelse:
                    yield from walk(ast.Module(body=[statement], type_ignores=[]), type_checking)
            else:
                yield from walk(child, type_checking)
    yield from walk(tree, False)


def _resolve(name: str, modules: dict[str, str]) -> str:
    """The longest prefix of `name` that is a module of the package (`a.b.attr` -> `a.b`)."""
    while name not in modules and '.' in name:
        name = name.rsplit('.', 1)[0]
    return name


def module_edges(modules: dict[str, str] | None = None) -> list[Edge]:
    """One Edge per imported module per import statement, in and out of the package."""
    modules = module_files() if modules is None else modules
    edges = []
    for source, path in sorted(modules.items()):
        with open(path, encoding='utf-8') as file:
            tree = ast.parse(file.read(), filename=path)
        is_package = os.path.basename(path) == '__init__.py'
        for node, type_checking in _imports(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = node.module or ''
                if node.level:
                    anchor = source.split('.')
                    anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
                    base = '.'.join(anchor + ([base] if base else []))
                # `from pkg import sub` imports the submodule pkg.sub when there is one.
                names = [f'{base}.{alias.name}' if f'{base}.{alias.name}' in modules else base
                         for alias in node.names]
            for name in dict.fromkeys(names):
                target = _resolve(name, modules) if name.startswith(PACKAGE) else name.split('.')[0]
                if target != source:
                    edges.append(Edge(source, target, node.lineno, type_checking))
    return edges


def package_of(module: str) -> str:
    """magenta_rnn.music.melodies -> magenta_rnn.music; top-level modules stand alone."""
    return '.'.join(module.split('.')[:2])


def package_graph(edges: list[Edge]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if not edge.target.startswith(PACKAGE):
            continue
        source, target = package_of(edge.source), package_of(edge.target)
        graph.setdefault(source, set())
        graph.setdefault(target, set())
        if source != target:
            graph[source].add(target)
    return graph


def format_graph(graph: dict[str, set[str]]) -> str:
    return '\n'.join(f'{node} -> {", ".join(sorted(targets)) or "(nothing)"}'
                     for node, targets in sorted(graph.items()))


def _within(module: str, packages: tuple[str, ...]) -> str | None:
    return next((p for p in packages if module == p or module.startswith(p + '.')), None)


def layering_violations(edges: list[Edge]) -> list[str]:
    """Every import that breaks the layering, as 'rule: module:line imports module'."""
    problems = []
    for edge in edges:
        if not edge.target.startswith(PACKAGE):
            continue
        where = f'{edge.source}:{edge.line} imports {edge.target}'
        if _within(edge.source, (CORE,)) and not _within(edge.target, CORE_MAY_IMPORT):
            problems.append(f'core reaches up: {where}')
        if _within(edge.source, (PIPELINES,)) and _within(edge.target, ENGINE + MODELS):
            problems.append(f'pipelines reach up: {where}')
        if _within(edge.source, ENGINE) and _within(edge.target, MODELS + (API,)):
            problems.append(f'engine reaches into a model: {where}')
        source_model, target_model = _within(edge.source, MODELS), _within(edge.target, MODELS)
        if source_model and target_model and source_model != target_model:
            problems.append(f'one model reaches into another: {where}')
        if source_model and _within(edge.target, (API,)):
            problems.append(f'model reaches up to the API: {where}')
    return problems


def module_cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if edge.target.startswith(PACKAGE) and not edge.type_checking:
            graph.setdefault(edge.source, set()).add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def private_name_uses(paths: list[str], modules: dict[str, str] | None = None) -> list[str]:
    """`from m import _name` and `m._name` for m a module of the package, in other files.

    A private name used outside its module is a name the two modules share: it should be
    public (or live where it is used). Dunder names are not private.
    """
    modules = module_files() if modules is None else modules
    found = []
    for path in paths:
        with open(path, encoding='utf-8') as file:
            tree = ast.parse(file.read(), filename=path)
        where = os.path.relpath(path, ROOT)
        aliases: dict[str, str] = {}  # local name -> module of the package
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or '').startswith(PACKAGE):
                for alias in node.names:
                    if f'{node.module}.{alias.name}' in modules:
                        aliases[alias.asname or alias.name] = f'{node.module}.{alias.name}'
                    elif _is_private(alias.name):
                        found.append(f'{where}:{node.lineno}: from {node.module} import '
                                     f'{alias.name}')
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(PACKAGE) and alias.asname:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
                continue
            owner = ast.unparse(node.value)
            module = aliases.get(owner) or (owner if owner in modules else None)
            if module:
                found.append(f'{where}:{node.lineno}: {module}.{node.attr}')
    return found


def _is_private(name: str) -> bool:
    return name.startswith('_') and not name.startswith('__')


def _python_files(*folders: str) -> list[str]:
    return sorted(os.path.join(directory, file)
                  for folder in folders
                  for directory, _, files in os.walk(os.path.join(ROOT, folder))
                  for file in files if file.endswith('.py'))


def _failure(message: str, edges: list[Edge]) -> str:
    return f'{message}\n\nPackage import graph:\n{format_graph(package_graph(edges))}'


def test_every_module_parses_and_the_graph_is_not_empty():
    edges = module_edges()
    graph = package_graph(edges)
    assert CORE in graph and 'magenta_rnn.rnn' in graph
    # The shape the tests below guard: models stand on the engine, the engine on the core.
    assert 'magenta_rnn.music' in graph['magenta_rnn.rnn']
    assert 'magenta_rnn.rnn' in graph['magenta_rnn.melody']


def test_each_layer_imports_only_from_below():
    edges = module_edges()
    problems = layering_violations(edges)
    assert not problems, _failure('\n'.join(problems), edges)


def test_core_imports_no_tensorflow():
    edges = module_edges()
    problems = [f'{e.source}:{e.line} imports {e.target}' for e in edges
                if _within(e.source, (CORE,)) and e.target in ('tensorflow', 'keras')]
    assert not problems, '\n'.join(problems)


def test_no_import_cycle_between_modules():
    edges = module_edges()
    cycles = [cycle for cycle in module_cycles(edges) if tuple(cycle) not in KNOWN_CYCLES]
    assert not cycles, _failure(
        'import cycles:\n' + '\n'.join(' <-> '.join(cycle) for cycle in cycles), edges)


def test_no_private_name_is_shared_between_modules():
    """The package and its scripts use each other's public names only. (Tests may reach a
    module's private helper to pin it down.)"""
    found = private_name_uses(_python_files(PACKAGE, 'scripts'))
    assert not found, 'private names used outside their module:\n' + '\n'.join(found)


def test_private_name_uses_are_found(tmp_path):
    user = tmp_path / 'user.py'
    user.write_text('from magenta_rnn.music import performances\n'
                    'from magenta_rnn.music.encoders import _range, __doc__\n'
                    'import magenta_rnn.music_vae.lstm as lstm\n'
                    'performances._event_arrays([])\n'
                    'lstm._normal_initializer(0.1)\n'
                    'magenta_rnn.music.sequences._copy(None)\n'
                    'performances.__name__\n')
    modules = {name: '' for name in ('magenta_rnn.music.performances', 'magenta_rnn.music.encoders',
                                     'magenta_rnn.music_vae.lstm', 'magenta_rnn.music.sequences')}
    assert sorted(private_name_uses([str(user)], modules)) == sorted([
        f'{os.path.relpath(user, ROOT)}:2: from magenta_rnn.music.encoders import _range',
        f'{os.path.relpath(user, ROOT)}:4: magenta_rnn.music.performances._event_arrays',
        f'{os.path.relpath(user, ROOT)}:5: magenta_rnn.music_vae.lstm._normal_initializer',
        f'{os.path.relpath(user, ROOT)}:6: magenta_rnn.music.sequences._copy'])


def test_the_checks_catch_what_they_guard():
    """The rules fire on a made-up graph (a check that cannot fail guards nothing)."""
    edges = [Edge('magenta_rnn.music.melodies', 'magenta_rnn.pipelines.statistics', 3, False),
             Edge('magenta_rnn.music.melodies', 'numpy', 3, False),
             Edge('magenta_rnn.melody.model', 'magenta_rnn.drums.model', 4, False),
             Edge('magenta_rnn.melody.generate', 'magenta_rnn.api', 5, False),
             Edge('magenta_rnn.pipelines.stages', 'magenta_rnn.rnn.config', 6, False),
             Edge('magenta_rnn.rnn.cli', 'magenta_rnn.melody', 7, False),
             Edge('magenta_rnn.music.a', 'magenta_rnn.music.b', 1, False),
             Edge('magenta_rnn.music.b', 'magenta_rnn.music.a', 1, False),
             Edge('magenta_rnn.music.c', 'magenta_rnn.music.d', 1, False),
             Edge('magenta_rnn.music.d', 'magenta_rnn.music.c', 1, True)]
    assert layering_violations(edges) == [
        'core reaches up: magenta_rnn.music.melodies:3 imports magenta_rnn.pipelines.statistics',
        'one model reaches into another: magenta_rnn.melody.model:4 imports '
        'magenta_rnn.drums.model',
        'model reaches up to the API: magenta_rnn.melody.generate:5 imports magenta_rnn.api',
        'pipelines reach up: magenta_rnn.pipelines.stages:6 imports magenta_rnn.rnn.config',
        'engine reaches into a model: magenta_rnn.rnn.cli:7 imports magenta_rnn.melody']
    assert module_cycles(edges) == [['magenta_rnn.music.a', 'magenta_rnn.music.b']]


def test_relative_and_lazy_imports_are_read(tmp_path):
    package = tmp_path / PACKAGE
    (package / 'sub').mkdir(parents=True)
    (package / '__init__.py').write_text('')
    (package / 'sub' / '__init__.py').write_text('from . import leaf\n')
    (package / 'sub' / 'leaf.py').write_text(
        'from typing import TYPE_CHECKING\n'
        'if TYPE_CHECKING:\n    from magenta_rnn import top\n'
        'def f():\n    from ..top import name\n    import numpy.linalg\n')
    (package / 'top.py').write_text('name = 1\n')
    modules = {name: str(tmp_path / (name.replace('.', '/') + '.py')) for name in
               ('magenta_rnn.sub.leaf', 'magenta_rnn.top')}
    modules['magenta_rnn'] = str(package / '__init__.py')
    modules['magenta_rnn.sub'] = str(package / 'sub' / '__init__.py')
    edges = {(e.source, e.target, e.type_checking) for e in module_edges(modules)}
    assert edges == {('magenta_rnn.sub', 'magenta_rnn.sub.leaf', False),
                     ('magenta_rnn.sub.leaf', 'typing', False),
                     ('magenta_rnn.sub.leaf', 'magenta_rnn.top', True),
                     ('magenta_rnn.sub.leaf', 'magenta_rnn.top', False),
                     ('magenta_rnn.sub.leaf', 'numpy', False)}


if __name__ == '__main__':
    all_edges = module_edges()
    if '--modules' in sys.argv[1:]:
        by_module: dict[str, set[str]] = {}
        for e in all_edges:
            if e.target.startswith(PACKAGE):
                by_module.setdefault(e.source, set()).add(e.target)
        print(format_graph(by_module))
    else:
        print(format_graph(package_graph(all_edges)))
    for problem in layering_violations(all_edges):
        print('LAYERING:', problem)
    for cycle in module_cycles(all_edges):
        print('CYCLE:', ' <-> '.join(cycle), '(known)' if tuple(cycle) in KNOWN_CYCLES else '')
    for use in private_name_uses(_python_files(PACKAGE, 'scripts')):
        print('PRIVATE NAME:', use)
