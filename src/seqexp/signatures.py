"""Constructor signatures of seqexp's own classes, read from their source without importing them.

The config pass (:mod:`seqexp.checks`) binds each ``_target_`` node to its constructor's signature. Importing a
DataModule or a task imports torch and Lightning (seconds); reading its module with :mod:`ast` takes
milliseconds, so a config mistake is answered before either is imported. A dotted path is followed as Python
would (``seqexp.data.sine.SineDataModule`` through the package's ``from ... import`` re-exports, old layout or
new), without running any ``__init__``; annotations are evaluated over typing's names, builtins and
:class:`seqexp.checks.Range`, module constants included (``Literal[POOLINGS]``). A class's cross-field rule, its
``check_config`` classmethod, is read the same way (:func:`read_rule`): the function is compiled alone, over the
module's constants, light modules' names and other functions read likewise. Whatever cannot be told from the
source (a class of another library, a decorator, a module ``__getattr__``, an annotation naming torch, a rule
that calls into torch) is :class:`Unread`: that class, parameter or rule is left to the pass that imports it.
"""

from __future__ import annotations

import ast
import builtins
import copy
import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Callable

# Modules imported for real when a signature names them: they import nothing heavy.
LIGHT_MODULES = ("typing", "types", "collections.abc", "seqexp.checks")
SAFE_BUILTINS = {
    name: getattr(builtins, name) for name in ("bool", "int", "float", "complex", "str", "bytes", "dict", "list", "tuple", "set", "frozenset", "object", "type")
}
# What a rule's body may call besides the names its module binds: pure functions, and exceptions to raise or catch.
RULE_BUILTINS = {
    **SAFE_BUILTINS,
    **{
        name: getattr(builtins, name)
        for name in ("abs", "all", "any", "enumerate", "isinstance", "len", "max", "min", "range", "repr", "round", "sorted", "sum", "zip")
        + ("Exception", "KeyError", "TypeError", "ValueError")
    },
}
ALLOWED_NODES = (  # what a declaration is written with
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Tuple,
    ast.List,
    ast.Dict,
    ast.BinOp,
    ast.BitOr,
    ast.UnaryOp,
    ast.USub,
    ast.Call,
    ast.keyword,
)


class Unread(Exception):
    """What cannot be told from the source alone."""


@dataclass(frozen=True)
class SourceClass:
    """A class as its module's source defines it."""

    module: str
    node: ast.ClassDef


@dataclass(frozen=True)
class SourceFunction:
    """A function as its module's source defines it (at the top level, or in a class body)."""

    module: str
    node: ast.FunctionDef


@dataclass(frozen=True)
class ReadSignature:
    """``cls``'s constructor as ``inspect.signature`` gives it (defaults stand in for the values), and the
    annotations of each class along its MRO that defines ``__init__``, the class's own first."""

    name: str
    signature: inspect.Signature
    annotations: list[dict[str, Any]]  # per class: argument -> annotation; an Unread one is left out
    unread: frozenset[str]  # arguments with an annotation that could not be evaluated in some class


@lru_cache(maxsize=None)
def _package_folder() -> Path:
    spec = importlib.util.find_spec("seqexp")  # seqexp/__init__.py imports nothing
    return Path(next(iter(spec.submodule_search_locations)))  # type: ignore[union-attr, arg-type]


def module_file(module: str) -> Path | None:
    """The source file of a seqexp module (``x/__init__.py`` for a package, else ``x.py``); None if there is none."""
    parts = module.split(".")
    if parts[0] != "seqexp":
        return None
    base = _package_folder().joinpath(*parts[1:])
    return next((path for path in (base / "__init__.py", base.with_suffix(".py")) if path.is_file()), None)


@lru_cache(maxsize=None)
def _parsed(module: str) -> ast.Module | None:
    path = module_file(module)
    return ast.parse(path.read_text(encoding="utf-8"), str(path)) if path is not None else None


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The module an import names, relative ones (``from .x import Name``) resolved against ``module``."""
    if not node.level:
        return str(node.module)
    path = module_file(module)
    package = module if path is not None and path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def lookup(module: str, name: str, depth: int = 0, functions: bool = False) -> Any:
    """What ``name`` is at the top of ``module``: a value (a constant, typing's names, Range), a
    :class:`SourceClass`, or :class:`Unread`; with ``functions``, a function of seqexp's is a :class:`SourceFunction`
    and :data:`RULE_BUILTINS` are found too (names in a rule's body). The last top-level binding wins, as when the
    module runs."""
    if depth > 20:
        raise Unread(f"{module}.{name}: imports go round")
    if module in LIGHT_MODULES:
        value = getattr(importlib.import_module(module), name, None)
        if value is None:
            raise Unread(f"{module}.{name}")
        return value
    tree = _parsed(module)
    if tree is None:
        raise Unread(f"{module}: not one of seqexp's modules")
    found: Any = None
    stars: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.ClassDef) and statement.name == name:
            found = SourceClass(module, statement)
        elif isinstance(statement, ast.FunctionDef) and statement.name == name and functions:
            found = SourceFunction(module, statement)
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name == name:
            found = Unread(f"{module}.{name}: a function")
        elif isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in statement.targets):
            found = ("expression", statement.value)
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.target.id == name:
            found = ("expression", statement.value) if statement.value is not None else found
        elif isinstance(statement, ast.ImportFrom):
            source = _absolute(module, statement)
            for alias in statement.names:
                if alias.name == "*":
                    stars.append(source)
                elif (alias.asname or alias.name) == name:
                    found = ("import", source, alias.name)
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                if (alias.asname or alias.name.split(".")[0]) == name:
                    found = ("module", alias.name if alias.asname else alias.name.split(".")[0])
    if isinstance(found, (SourceClass, SourceFunction, Unread)):
        if isinstance(found, Unread):
            raise found
        return found
    if found is not None and found[0] == "expression":
        return evaluate(module, found[1], depth + 1)
    if found is not None and found[0] == "import":
        return _imported(found[1], found[2], depth + 1, functions)
    if found is not None:  # `import typing`
        if found[1] not in LIGHT_MODULES:
            raise Unread(f"{module}.{name}: the module {found[1]}")
        return importlib.import_module(found[1])
    for source in stars:
        try:
            return lookup(source, name, depth + 1, functions)
        except Unread:
            continue
    known = RULE_BUILTINS if functions else SAFE_BUILTINS
    if name in known:
        return known[name]
    raise Unread(f"{module}.{name}: not found in the source")


def _imported(source: str, name: str, depth: int, functions: bool = False) -> Any:
    """``from source import name``: the name in ``source``, or its submodule ``source.name``."""
    try:
        return lookup(source, name, depth, functions)
    except Unread:
        if module_file(f"{source}.{name}") is None:
            raise
        raise Unread(f"{source}.{name}: a module") from None


def _stand_in(found: SourceClass) -> type:
    """A bare class named as ``found``, so that ``dict[str, X]`` and ``X | None`` evaluate; no check reads into it."""
    return type(found.node.name, (), {"__module__": found.module, "__qualname__": found.node.name})


def evaluate(module: str, expression: ast.expr, depth: int = 0) -> Any:
    """An expression of ``module``'s source (an annotation, a constant), over the names the module binds."""
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str) and depth == 0:
        expression = ast.parse(expression.value, mode="eval").body  # a quoted annotation
    tree = ast.Expression(expression)
    namespace: dict[str, Any] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED_NODES):
            raise Unread(f"{module}: {ast.unparse(expression)}")
        if isinstance(node, ast.Name) and node.id not in namespace:
            value = lookup(module, node.id, depth + 1)
            namespace[node.id] = _stand_in(value) if isinstance(value, SourceClass) else value
    for node in ast.walk(tree):  # a call makes a declaration (Range(ge=1)), nothing else
        if isinstance(node, ast.Call) and getattr(_eval(module, node.func, namespace), "__module__", None) != "seqexp.checks":
            raise Unread(f"{module}: {ast.unparse(node)} calls what seqexp.checks does not define")
    try:
        return _eval(module, expression, namespace)
    except Exception as error:  # e.g. `X | None` over a stand-in from a module that could not be read
        raise Unread(f"{module}: {ast.unparse(expression)} ({error})") from error


def _eval(module: str, expression: ast.expr, namespace: dict[str, Any]) -> Any:
    return eval(compile(ast.Expression(expression), module, "eval"), {"__builtins__": {}}, namespace)  # noqa: S307 - seqexp's own source, its names resolved above


def find_class(target: str) -> SourceClass:
    """The class a ``_target_`` names, followed through re-exports; :class:`Unread` if it is not one of seqexp's."""
    module, _, name = target.rpartition(".")
    found = lookup(module, name) if module_file(module) is not None else None
    if not isinstance(found, SourceClass):
        raise Unread(f"{target}: not a class of seqexp's source")
    return found


class Opaque:
    """Another library's base class (Lightning's, torch's, ABC) in a MRO: its constructor and ancestors unknown."""


def _base(module: str, expression: ast.expr) -> SourceClass | Opaque:
    try:
        value = lookup(module, expression.id) if isinstance(expression, ast.Name) else None
    except Unread:
        value = None
    return value if isinstance(value, SourceClass) else Opaque()


def _mro(found: SourceClass) -> list[SourceClass | Opaque]:
    """Python's C3 linearisation over seqexp's classes, another library's base standing for itself and its ancestors."""
    bases = [_base(found.module, base) for base in found.node.bases]
    sequences = [_mro(base) if isinstance(base, SourceClass) else [base] for base in bases] + [bases]
    order: list[SourceClass | Opaque] = [found]
    while sequences := [sequence for sequence in sequences if sequence]:
        head = next((seq[0] for seq in sequences if not any(seq[0] in other[1:] for other in sequences)), None)
        if head is None:
            raise Unread(f"{found.module}.{found.node.name}: no consistent MRO")
        order.append(head)
        sequences = [seq[1:] if seq[0] == head else seq for seq in sequences]
    return order


def _init(found: SourceClass) -> ast.FunctionDef | None:
    for statement in found.node.body:
        if isinstance(statement, ast.FunctionDef) and statement.name in ("__new__", "__signature__"):
            raise Unread(f"{found.node.name} defines {statement.name}")
        if isinstance(statement, ast.FunctionDef) and statement.name == "__init__":
            return statement
    return None


_DEFAULT = object()  # stands in for a default value: binding asks only whether there is one


def _parameters(found: SourceClass, init: ast.FunctionDef) -> tuple[list[inspect.Parameter], dict[str, Any], set[str]]:
    arguments = init.args
    positional = [*arguments.posonlyargs, *arguments.args][1:]  # less self
    defaults = [None] * (len(arguments.posonlyargs) + len(arguments.args) - len(arguments.defaults)) + list(arguments.defaults)
    defaults = defaults[1:]
    kinds = [inspect.Parameter.POSITIONAL_ONLY] * len(arguments.posonlyargs) + [inspect.Parameter.POSITIONAL_OR_KEYWORD] * len(arguments.args)
    entries = [(arg, kind, default) for arg, kind, default in zip(positional, kinds[1:], defaults)]
    if arguments.vararg:
        entries.append((arguments.vararg, inspect.Parameter.VAR_POSITIONAL, None))
    entries += [(arg, inspect.Parameter.KEYWORD_ONLY, default) for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults)]
    if arguments.kwarg:
        entries.append((arguments.kwarg, inspect.Parameter.VAR_KEYWORD, None))
    parameters, annotations, unread = [], {}, set()
    for arg, kind, default in entries:
        parameters.append(inspect.Parameter(arg.arg, kind, default=_DEFAULT if default is not None else inspect.Parameter.empty))
        if arg.annotation is not None:
            try:
                annotations[arg.arg] = evaluate(found.module, arg.annotation)
            except Unread:
                unread.add(arg.arg)
    return parameters, annotations, unread


@lru_cache(maxsize=None)
def derives_from(target: str, base: str) -> bool:
    """Whether the seqexp class ``target`` names is the class ``base`` names or derives from it, read from the source
    (``seqexp.predict`` tells a text model's run this way before importing torch); :class:`Unread` if either is not
    one of seqexp's classes."""
    wanted = find_class(base)
    return any(isinstance(klass, SourceClass) and (klass.module, klass.node.name) == (wanted.module, wanted.node.name) for klass in _mro(find_class(target)))


def read_signature(target: str) -> ReadSignature:
    """The constructor signature of the seqexp class ``target`` names, from the source; :class:`Unread` if it
    cannot be told without importing (then the pass that imports the class binds it)."""
    found = find_class(target)
    if found.node.decorator_list or any(keyword.arg == "metaclass" for keyword in found.node.keywords):
        raise Unread(f"{target}: decorated, or with a metaclass")
    signature: inspect.Signature | None = None
    annotations: list[dict[str, Any]] = []
    unread: set[str] = set()
    for klass in _mro(found):
        if isinstance(klass, Opaque):  # another library's class: its __init__ may come first; its annotations are its own
            if signature is None:
                raise Unread(f"{target}: its constructor may be another library's")
            continue
        init = _init(klass)
        if init is None:
            continue
        parameters, declared, unreadable = _parameters(klass, init)
        if signature is None:
            signature = inspect.Signature(parameters)
        annotations.append(declared)
        unread |= unreadable
    if signature is None:
        raise Unread(f"{target}: no __init__ in its source")
    return ReadSignature(found.node.name, signature, annotations, frozenset(unread))


RULE = "check_config"  # the classmethod that holds a class's cross-field rule, check_config(cls, cfg)
REFUSED_IN_RULES = (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.AsyncFunctionDef, ast.Await, ast.Yield, ast.YieldFrom)


def _undecorated(node: ast.FunctionDef) -> ast.FunctionDef:
    """A copy of ``node`` without decorators and annotations: the rule is called, never inspected."""
    bare = copy.deepcopy(node)
    bare.decorator_list = []
    for inner in ast.walk(bare):
        if isinstance(inner, ast.arg):
            inner.annotation = None
        elif isinstance(inner, ast.FunctionDef):
            inner.returns = None
    return bare


def _free_names(node: ast.FunctionDef) -> set[str]:
    """The names ``node`` reads from its module: what it reads less what it binds itself (arguments, assignments,
    loop and comprehension targets, nested definitions, ``except ... as``)."""
    nodes = list(ast.walk(node))
    bound = {inner.arg for inner in nodes if isinstance(inner, ast.arg)}
    bound |= {inner.id for inner in nodes if isinstance(inner, ast.Name) and not isinstance(inner.ctx, ast.Load)}
    bound |= {inner.name for inner in nodes if isinstance(inner, (ast.FunctionDef, ast.ClassDef, ast.ExceptHandler)) and inner.name and inner is not node}
    return {inner.id for inner in nodes if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load)} - bound


def read_function(found: SourceFunction, depth: int = 0) -> Callable[..., Any]:
    """``found`` compiled alone, its free names bound to what its module binds them to; :class:`Unread` where one
    is not a constant, a light module's name or a function read likewise (a class, torch), or the body imports."""
    if depth > 20:
        raise Unread(f"{found.module}.{found.node.name}: calls go round")
    node = _undecorated(found.node)
    if any(isinstance(inner, REFUSED_IN_RULES) for inner in ast.walk(node)):
        raise Unread(f"{found.module}.{node.name}: imports, declares globals or is a generator")
    namespace: dict[str, Any] = {"__builtins__": RULE_BUILTINS, "__name__": found.module}
    for name in sorted(_free_names(node)):
        if name.startswith("__"):
            raise Unread(f"{found.module}.{node.name}: reads {name}")
        value = lookup(found.module, name, depth + 1, functions=True)
        if isinstance(value, SourceClass):
            raise Unread(f"{found.module}.{node.name}: reads the class {name}")
        namespace[name] = read_function(value, depth + 1) if isinstance(value, SourceFunction) else value
    exec(compile(ast.Module(body=[node], type_ignores=[]), str(module_file(found.module)), "exec"), namespace)  # noqa: S102 - seqexp's own source, its names resolved above
    return namespace[node.name]


def _rule(found: SourceClass) -> ast.FunctionDef | None:
    """The ``check_config`` a class body defines, None if it defines none; :class:`Unread` if it is bound otherwise."""
    for statement in found.node.body:
        if isinstance(statement, ast.FunctionDef) and statement.name == RULE:
            if [ast.unparse(decorator) for decorator in statement.decorator_list] != ["classmethod"]:
                raise Unread(f"{found.node.name}.{RULE}: not a plain classmethod")
            return statement
        targets = statement.targets if isinstance(statement, ast.Assign) else [getattr(statement, "target", None)]
        if any(isinstance(target, ast.Name) and target.id == RULE for target in targets) or getattr(statement, "name", None) == RULE:
            raise Unread(f"{found.node.name}.{RULE}: not defined as a classmethod")  # check_config = ..., async def, a nested class
    return None


@lru_cache(maxsize=None)
def read_rule(target: str) -> Callable[[Any], None] | None:
    """The cross-field rule of the seqexp class ``target`` names, ``check_config(cls, cfg)``, read from the source as
    a function of ``cfg``; None if the source tells that the class has none. :class:`Unread` if the class, or its
    rule, cannot be told without importing (another library's base comes first in its MRO, the rule reads ``cls``
    or what :func:`read_function` cannot read): then the pass that imports the class runs its own."""
    found = find_class(target)
    if found.node.decorator_list or any(keyword.arg == "metaclass" for keyword in found.node.keywords):
        raise Unread(f"{target}: decorated, or with a metaclass")
    for klass in _mro(found):
        if isinstance(klass, Opaque):
            raise Unread(f"{target}: another library's base class may define {RULE}")
        node = _rule(klass)
        if node is None:
            continue
        arguments = [*node.args.posonlyargs, *node.args.args]
        if len(arguments) != 2 or any(isinstance(inner, ast.Name) and inner.id == arguments[0].arg for inner in ast.walk(node)):
            raise Unread(f"{target}: {RULE} must take (cls, cfg) and read cfg only")
        return partial(read_function(SourceFunction(klass.module, node)), None)  # cls: a rule read here does not use it
    return None
