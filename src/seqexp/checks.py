"""One validation pass over a run's config, before anything is built (as torchtune's ``config/_validate.py``).

Each ``_target_`` node is bound to its constructor's signature: a key the constructor does not take, or a
required one the config lacks, is named as ``group.key``. Types and ranges are declared once, on the
signature of our own classes (``Literal[...]``, ``Annotated[int, Range(ge=1)]``, ``bool``, ...; a subclass
inherits what a base class declares for the same argument) and checked here; a rule that ties several
keys is one classmethod per class, ``check_config(cls, cfg)``, given the whole run config as plain dicts.
Everything raises :class:`ConfigError`. Constructors called from plain Python check their arguments with
the same declarations (:func:`check_arguments`).

The pass runs in two steps. :func:`source_problems` reads the signatures of seqexp's own classes from their
source (:mod:`seqexp.signatures`), and :func:`source_rule_problems` their ``check_config`` rules, so a mistake is
answered before torch and Lightning are imported wherever the source tells; :func:`config_problems` then imports
every target, binds what the source could not tell (another library's classes, the user's) and runs the rules that
were not read from the source. Each rule runs once. This module imports neither torch nor Hydra;
``seqexp.config`` runs the pass.
"""

from __future__ import annotations

import importlib
import inspect
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from seqexp.signatures import Unread, lookup, read_rule, read_signature

# Keys Hydra's instantiate consumes itself.
HYDRA_KEYS = {"_target_", "_partial_", "_convert_", "_recursive_", "_args_"}


class ConfigError(ValueError):
    """A config value is out of its allowed range; the message names the full key."""


@dataclass(frozen=True)
class Range:
    """Bounds of a number, for ``Annotated[int, Range(ge=1)]``; ``finite`` refuses nan and inf."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    finite: bool = False

    def holds(self, value: float) -> bool:
        return (
            (self.ge is None or value >= self.ge)
            and (self.gt is None or value > self.gt)
            and (self.le is None or value <= self.le)
            and (self.lt is None or value < self.lt)
            and not (self.finite and not math.isfinite(value))
        )

    def describe(self, words: str) -> str:
        """``"an integer"`` -> ``"an integer >= 1"``; ``"a number"`` -> ``"a number in [0, 1)"``."""
        if self.finite:
            words = "a finite " + words.split(" ", 1)[1]
        low = f"[{self.ge:g}" if self.ge is not None else f"({self.gt:g}" if self.gt is not None else None
        high = f"{self.le:g}]" if self.le is not None else f"{self.lt:g})" if self.lt is not None else None
        if low and high:
            return f"{words} in {low}, {high}"
        if low:
            return f"{words} {'>=' if low[0] == '[' else '>'} {low[1:]}"
        if high:
            return f"{words} {'<=' if high[-1] == ']' else '<'} {high[:-1]}"
        return words


Check = tuple[Callable[[Any], bool], str]  # a value's test, and what it allows in words


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


SCALARS: dict[Any, Check] = {
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (_is_int, "an integer"),
    float: (_is_number, "a number"),
    str: (lambda v: isinstance(v, str), "a string"),
    type(None): (lambda v: v is None, "null"),
}


def annotation_check(annotation: Any) -> Check | None:
    """The test and the words for a declared type; None when the annotation declares nothing we check
    (``dict``, ``tuple``, ``Any``, a class): such values are left to the constructor."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in SCALARS:
        return SCALARS[annotation]
    if origin is typing.Literal:
        return (lambda v: any(v == a and type(v) is type(a) for a in args), f"one of {list(args)}")
    if origin is typing.Annotated:
        base = annotation_check(args[0])
        ranges = [meta for meta in annotation.__metadata__ if isinstance(meta, Range)]
        if base is None or not ranges:
            return base
        test, words = base
        bounds = ranges[0]
        return (lambda v: test(v) and bounds.holds(v), bounds.describe(words))
    if origin in (typing.Union, types.UnionType):
        checks = [annotation_check(arg) for arg in args]
        if any(check is None for check in checks):
            return None
        ordered = sorted(checks, key=lambda check: check[1] != "null")  # "null or ..." reads best
        return (lambda v: any(test(v) for test, _ in checks), " or ".join(words for _, words in ordered))
    if (origin is list and args) or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):  # YAML writes tuples as lists
        item = annotation_check(args[0])
        if item is None:
            return None
        words = f"a list of items from {item[1][len('one of ') :]}" if item[1].startswith("one of ") else f"a list of {_plural(item[1])}"
        return (lambda v: isinstance(v, (list, tuple)) and all(item[0](x) for x in v), words)
    return None


def _plural(words: str) -> str:
    """``"an integer >= 1"`` -> ``"integers >= 1"``, for the items of a list."""
    for one, many in (("an integer", "integers"), ("a finite number", "finite numbers"), ("a number", "numbers"), ("a string", "strings")):
        if words.startswith(one):
            return many + words[len(one) :]
    return words


def _declares(annotation: Any) -> bool:
    """Whether an annotation declares more than a plain type: a Literal or a Range, at any depth."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Literal, typing.Annotated):
        return True
    return any(_declares(arg) for arg in typing.get_args(annotation))


def merged_declarations(per_class: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Constructor argument -> its annotation, over a class's MRO (the class first): a base class's declaration
    (Literal, Range) fills in where a subclass only repeats the plain type."""
    found: dict[str, Any] = {}
    for hints in per_class:
        for name, annotation in hints.items():
            if name != "return" and (name not in found or (not _declares(found[name]) and _declares(annotation))):
                found[name] = annotation
    return found


def _hints(klass: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(klass.__init__, include_extras=True)  # type: ignore[misc]
    except Exception:  # an annotation that does not resolve: nothing declared there
        return {}


def declared_types(cls: type) -> dict[str, Any]:
    """What ``cls``'s constructor declares, its seqexp base classes' declarations included."""
    return merged_declarations(_hints(klass) for klass in cls.__mro__ if "__init__" in vars(klass) and klass.__module__.startswith("seqexp."))


def value_problems(cls: type, group: str, values: Mapping[str, Any]) -> list[str]:
    """``group.key=value: must be ...`` for each value outside what ``cls``'s signature declares."""
    return declared_value_problems(declared_types(cls), group, values)


def declared_value_problems(hints: Mapping[str, Any], group: str, values: Mapping[str, Any]) -> list[str]:
    """``group.key=value: must be ...`` for each value outside its declaration in ``hints``."""
    problems = []
    for key, value in values.items():
        entry = _entry_annotation(hints.get(key))
        if entry is not None and isinstance(value, Mapping) and "_target_" not in value:  # each entry, named group.key.entry
            problems += declared_value_problems(dict.fromkeys(value, entry), f"{group}.{key}", value)
            continue
        check = annotation_check(hints[key]) if key in hints else None
        unresolved = isinstance(value, str) and "${" in value  # an interpolation that could not be resolved here
        if check is not None and not unresolved and not (isinstance(value, Mapping) and "_target_" in value) and not check[0](value):
            problems.append(f"{group}.{key}={value!r}: must be {check[1]}")
    return problems


def _entry_annotation(annotation: Any) -> Any:
    """``X`` of ``dict[str, X]`` (or ``dict[str, X] | None``) where ``X`` declares something to check, else None."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        mappings = [arg for arg in args if typing.get_origin(arg) is dict]
        return _entry_annotation(mappings[0]) if len(mappings) == 1 else None
    if typing.get_origin(annotation) is dict and len(args) == 2 and annotation_check(args[1]) is not None:
        return args[1]
    return None


def check_arguments(cls: type, group: str, **arguments: Any) -> None:
    """For constructors called from plain Python: the same declarations as the config pass."""
    problems = value_problems(cls, group, arguments)
    if problems:
        raise ConfigError("; ".join(problems))


def locate(target: str) -> Any:
    module, _, name = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(f"_target_={target}: cannot be imported ({error})") from error


def bind_problems(target: Any, group: str, node: Mapping[str, Any], passed: tuple[str, ...] = ()) -> list[str]:
    """Bind a node's keys (and the arguments the caller passes itself) to ``target``'s signature: the keys it
    does not take and the required ones that are missing, each named ``group.key``."""
    return signature_problems(inspect.signature(target), getattr(target, "__name__", str(target)), group, node, passed)


def signature_problems(signature: inspect.Signature, name: str, group: str, node: Mapping[str, Any], passed: tuple[str, ...] = ()) -> list[str]:
    """:func:`bind_problems` over a signature, named ``name`` in the messages."""
    keys = {key: value for key, value in node.items() if key not in HYDRA_KEYS}
    try:
        signature.bind(**{**keys, **dict.fromkeys(passed)})
        return []
    except TypeError:
        pass
    parameters = signature.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    named = [key for key, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and key not in passed]
    problems = [f"{group}.{key}: not a key of {name}; the keys are {named}" for key in keys if key not in parameters and not takes_any]
    problems += [f"{group}.{key}: required by {name}, not set" for key in named if parameters[key].default is inspect.Parameter.empty and key not in keys]
    return problems or [f"{group}: does not fit {name}{signature}"]


def node_problems(group: str, node: Mapping[str, Any], cfg: Mapping[str, Any], passed: tuple[str, ...] = ()) -> list[str]:
    """The node bound to its target's signature, and its values checked: all that our own classes declare; for
    another library's class, the plain types its constructor declares (a null is left to it: a config's null
    often stands for a value filled in later, such as a cosine schedule's ``T_max``)."""
    target = locate(str(node["_target_"]))
    problems = bind_problems(target, group, node, passed)
    values = {key: value for key, value in node.items() if key not in HYDRA_KEYS}
    if not isinstance(target, type):
        return problems
    if target.__module__.startswith("seqexp."):
        return problems + value_problems(target, group, values)
    return problems + declared_value_problems(_hints(target), group, {key: value for key, value in values.items() if value is not None})


def source_node_problems(group: str, node: Mapping[str, Any], passed: tuple[str, ...] = ()) -> list[str]:
    """:func:`node_problems` from the source of seqexp's own class, without importing it: its keys bound and
    the values it declares checked. A class, or an argument, that the source does not tell is left out here
    (:func:`node_problems` binds it once imported)."""
    try:
        read = read_signature(str(node["_target_"]))
    except Unread:
        return []
    hints = {key: value for key, value in merged_declarations(read.annotations).items() if key not in read.unread}
    values = {key: value for key, value in node.items() if key not in HYDRA_KEYS}
    return signature_problems(read.signature, read.name, group, node, passed) + declared_value_problems(hints, group, values)


def cross_field_problems(node: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[str]:
    """The target's own rule over several keys, ``check_config(cls, cfg)``, if it has one."""
    check_config = getattr(locate(str(node["_target_"])), "check_config", None)
    try:
        if callable(check_config):
            check_config(cfg)
    except ConfigError as error:
        return [str(error)]
    return []


# What the entry points pass to a group's constructor themselves (seqexp.builder; the task builds optim and scheduler).
PASSED: dict[str, tuple[str, ...]] = {
    "task": ("spec", "model", "optim", "scheduler"),
    "trainer": ("callbacks", "logger"),
    "optim": ("params",),
    "scheduler": ("optimizer",),
}
# Lightning's lr_scheduler_config keys, beside the scheduler's own in conf/scheduler: the task takes them out
# before it builds the scheduler (seqexp.tasks.optim).
LR_SCHEDULER_KEYS = ("interval", "frequency", "monitor")
TAKEN: dict[str, tuple[str, ...]] = {"scheduler": LR_SCHEDULER_KEYS}  # a group's keys that are not its target's
LISTS = ("callbacks", "logger")  # groups of named entries, each its own node


# The `model` section has no `_target_`: `architecture` picks the encoder class, a nested section's keys are that
# class's arguments with the section's name in front (conv.layers -> conv_layers), and `compile` wraps the built
# encoder. seqexp.models.encoder defines these names; they are read from its source.
MODEL_SOURCE = "seqexp.models.encoder"


def model_problems(model: Mapping[str, Any]) -> list[str]:
    """The ``model`` section bound to the signature of the encoder its ``architecture`` names, from the source:
    keys no argument takes (``model.x: not a model key``) and values outside what the encoder declares."""
    try:
        encoders, nested, selector, wrappers, default = (
            lookup(MODEL_SOURCE, name) for name in ("ENCODERS", "NESTED_SECTIONS", "SELECTOR_KEY", "WRAPPER_KEYS", "DEFAULT_ARCHITECTURE")
        )
        architecture = model.get(selector) or default
        if architecture not in encoders:
            return [f"model.{selector}={architecture!r}: must be one of {sorted(encoders)}"]
        read = read_signature(f"{encoders[architecture].__module__}.{encoders[architecture].__qualname__}")
    except Unread:
        return []  # left to the encoder's constructor
    arguments: dict[str, tuple[str, Any]] = {}  # encoder argument -> (model key, value)
    for key, value in model.items():
        if key in nested:  # a section set to null is left out, as a preset drops an inherited one
            arguments.update({f"{key}_{inner}": (f"{key}.{inner}", item) for inner, item in (value or {}).items()})
        elif key not in (selector, *wrappers):
            arguments[key] = (key, value)
    parameters = [name for name in read.signature.parameters if name != "input_size"]
    in_section = lambda name: any(name.startswith(f"{section}_") for section in nested)  # noqa: E731
    allowed = [selector, *(name.replace("_", ".", 1) if in_section(name) else name for name in parameters), *wrappers]
    problems = [f"model.{key}: not a model key; the keys are {allowed}" for name, (key, _) in arguments.items() if name not in parameters]
    hints = {name: value for name, value in merged_declarations(read.annotations).items() if name not in read.unread}
    for name, (key, value) in arguments.items():
        problems += [f"model.{key}{problem[len(f'model.{name}') :]}" for problem in declared_value_problems(hints, "model", {name: value})]
    return problems


def target_nodes(cfg: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """``group`` (``callbacks.<name>`` in a list group) -> its ``_target_`` node, less the keys that are not its target's."""
    nodes: dict[str, Mapping[str, Any]] = {}
    for group, node in cfg.items():
        if group == "hydra" or not isinstance(node, Mapping):
            continue
        if "_target_" in node:
            nodes[group] = node
        elif group in LISTS:
            nodes.update({f"{group}.{name}": entry for name, entry in node.items() if isinstance(entry, Mapping) and "_target_" in entry})
    return {group: {key: value for key, value in node.items() if key not in TAKEN.get(group, ())} for group, node in nodes.items()}


def source_problems(cfg: Mapping[str, Any]) -> list[str]:
    """What the source of seqexp's own classes tells about a resolved run config (plain dicts), importing none."""
    return [problem for group, node in target_nodes(cfg).items() for problem in source_node_problems(group, node, PASSED.get(group, ()))]


def source_rule_problems(cfg: Mapping[str, Any]) -> tuple[list[str], frozenset[str]]:
    """The cross-field rules of a resolved run config's classes that the source tells (:func:`read_rule`), run, importing
    none: their problems, and the groups whose rule is answered here (a group whose class has none, as the source
    tells, included). A rule that fails otherwise than with :class:`ConfigError` (a value whose declaration the source
    could not tell) is left to the class's own, once imported."""
    problems, answered = [], set()
    for group, node in target_nodes(cfg).items():
        try:
            rule = read_rule(str(node["_target_"]))
            if rule is not None:
                rule(cfg)
        except Unread:
            continue
        except ConfigError as error:
            problems.append(str(error))
        except Exception:  # noqa: BLE001 - the imported class's check_config runs instead, after its values are bound
            continue
        answered.add(group)
    return problems, frozenset(answered)


def config_problems(cfg: Mapping[str, Any], answered: frozenset[str] = frozenset()) -> list[str]:
    """Every ``_target_`` node of a resolved run config (plain dicts) imported, bound and its values checked; when
    all hold, the cross-field rules of the classes (which may then take each value's type for granted) that are not
    ``answered`` from the source already (:func:`source_rule_problems`)."""
    nodes = target_nodes(cfg)
    problems = [problem for group, node in nodes.items() for problem in node_problems(group, node, cfg, PASSED.get(group, ()))]
    return problems or [problem for group, node in nodes.items() if group not in answered for problem in cross_field_problems(node, cfg)]
