"""serde's derive rules, applied to a parsed tree (the exact decode path).

Given a tree from ``jsonparse.parse`` and a model from ``models``, decide
what ``#[derive(Deserialize)]`` would decide, and build the same msgspec
objects the fast path builds. The rules (FORMAT.md 5 and 5.1):

- structs take a map (unknown keys ignored, a known key twice is an error,
  required keys must be present) or, except untagged struct variants, an
  array read positionally with trailing defaulted fields optional and no
  extra items;
- a default covers a missing key, never ``null``; ``Option`` takes both
  (in a map; in an array only ``#[serde(default)]`` lets a trailing field
  be left out, and ``Usage`` has none);
- untagged enums (a tool result's content) take the first variant that
  fits;
- internally tagged enums take a map holding the tag once, or an array
  whose first item is the tag; a tag is the exact variant name, or its
  index as an unsigned integer (serde's variant identifiers accept both);
- integers must be integers (serde_json's U64/I64) within the field's width;
- free-form values take anything, duplicates resolved last-wins.

Every rejection carries a serde-like message and the byte offset of the
value that caused it. Accepting leniencies (array forms, ignored keys,
numeric tags, duplicates in free-form values) are recorded as notes: the
daemon accepts such files, but never writes them.
"""

from __future__ import annotations

from typing import Any

import msgspec.inspect as mi

from . import models as m
from .jsonparse import BadNum, BadStr, JArr, JObj, to_python

U32_MAX = (1 << 32) - 1


class MatchError(Exception):
    """serde would reject this value."""

    def __init__(self, message: str, offset: int, path: str = ""):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def unexpected(node: Any) -> str:
    """serde's `Unexpected` wording for a value."""
    if node is None:
        return "null"
    if node is True or node is False:
        return f"boolean `{'true' if node else 'false'}`"
    if type(node) is int:
        return f"integer `{node}`"
    if type(node) is float:
        return f"floating point `{node!r}`"
    if isinstance(node, str):
        s = node if len(node) <= 40 else node[:40] + "…"
        return f"string {s!r}"
    if isinstance(node, JArr):
        return "sequence"
    if isinstance(node, JObj):
        return "map"
    if isinstance(node, (BadStr, BadNum)):
        return node.reason
    return type(node).__name__


def _join(path: str, part: str) -> str:
    if part.startswith("["):
        return path + part
    return f"{path}.{part}" if path else part


def _unwrap(t: Any) -> tuple[Any, dict]:
    if isinstance(t, mi.Metadata):
        return t.type, (t.extra or {})
    return t, {}


class Matcher:
    """One decode: carries the leniency notes gathered along the way."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # -- scalar and container types -------------------------------------

    def value(self, t: Any, node: Any, off: int, path: str) -> Any:
        t, extra = _unwrap(t)
        if isinstance(node, (BadStr, BadNum)):
            raise MatchError(node.reason, node.offset, path)
        if isinstance(t, mi.StrType):
            if isinstance(node, str):
                return node
            raise MatchError(f"invalid type: {unexpected(node)}, expected a string", off, path)
        if isinstance(t, mi.IntType):
            hi = extra.get("serde_max", t.le if t.le is not None else None)
            width = "u64" if hi == (1 << 64) - 1 else ("u32" if hi == U32_MAX else "an integer")
            if type(node) is not int:
                raise MatchError(f"invalid type: {unexpected(node)}, expected {width}", off, path)
            if (t.ge is not None and node < t.ge) or (hi is not None and node > hi):
                raise MatchError(f"invalid value: {unexpected(node)}, expected {width}", off, path)
            return node
        if isinstance(t, mi.BoolType):
            if node is True or node is False:
                return node
            raise MatchError(f"invalid type: {unexpected(node)}, expected a boolean", off, path)
        if isinstance(t, mi.AnyType):
            self._check_free_form(node, path)
            return to_python(node)
        if isinstance(t, mi.ListType):
            if not isinstance(node, JArr):
                raise MatchError(f"invalid type: {unexpected(node)}, expected a sequence", off, path)
            return [self.value(t.item_type, v, o, _join(path, f"[{i}]")) for i, (v, o) in enumerate(zip(node.items, node.offs))]
        if isinstance(t, mi.UnionType):
            inner = [x for x in t.types if not isinstance(x, mi.NoneType)]
            if len(inner) != len(t.types):  # Option<T>
                if node is None:
                    return None
                return self.value(inner[0], node, off, path)
            if all(isinstance(x, mi.StructType) for x in inner):
                return self.tagged(inner, node, off, path)
            return self.untagged(inner, node, off, path)
        if isinstance(t, mi.StructType):
            return self.struct(t, node, off, path)
        raise TypeError(f"no serde rule for {t!r}")  # a model bug, not bad input

    def _check_free_form(self, node: Any, path: str) -> None:
        # serde_json::Value keeps the last of duplicated keys; the daemon
        # accepts that silently, so it is worth a note.
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, JObj):
                keys = [k for k, _, _, _ in n.pairs]
                if len(set(keys)) != len(keys):
                    self.note(f"duplicate key in free-form value at {path or 'top'} (last one wins)")
                stack.extend(v for _, _, v, _ in n.pairs)
            elif isinstance(n, JArr):
                stack.extend(n.items)

    def untagged(self, variants: list[Any], node: Any, off: int, path: str) -> Any:
        """``#[serde(untagged)]``: the first variant that fits wins (a tool
        result's content: a string, else a list of blocks)."""
        last: MatchError | None = None
        for v in variants:
            attempt = Matcher()
            try:
                value = attempt.value(v, node, off, path)
            except MatchError as e:
                last = e
                continue
            for n in attempt.notes:
                self.note(n)
            return value
        # serde says no more than this; the last variant's reason says where
        why = f" (as a list of blocks: {last})" if last is not None and isinstance(node, JArr) else ""
        at = last.offset if last is not None and isinstance(node, JArr) else off
        raise MatchError(f"data did not match any variant of untagged enum ToolResultContent{why}", at, path)

    # -- structs ----------------------------------------------------------

    def struct(self, t: mi.StructType, node: Any, off: int, path: str, map_only: bool = False, skip: str | None = None) -> Any:
        fields = t.fields
        name = t.cls.__name__
        if isinstance(node, JObj):
            by_name = {f.encode_name: f for f in fields}
            got: dict[str, Any] = {}
            unknown: list[str] = []
            for key, koff, val, voff in node.pairs:
                if isinstance(key, BadStr):
                    raise MatchError(key.reason, key.offset, path)
                if key == skip:
                    continue  # the enum's tag, already read
                f = by_name.get(key)
                if f is None:
                    unknown.append(key)
                    continue
                if f.name in got:
                    raise MatchError(f"duplicate field `{key}`", koff, path)
                got[f.name] = self.value(f.type, val, voff, _join(path, key))
            for f in fields:
                if f.name not in got:
                    if f.required:
                        raise MatchError(f"missing field `{f.encode_name}`", node.start, path)
            if unknown:
                shown = ", ".join(f"`{k}`" for k in unknown[:5]) + (" …" if len(unknown) > 5 else "")
                self.note(f"unknown key{'s' if len(unknown) > 1 else ''} ignored in {name}: {shown}")
            return t.cls(**got)
        if isinstance(node, JArr) and not map_only:
            items = node.items
            got = {}
            every = t.cls in m.ARRAY_NEEDS_EVERY_FIELD  # Option without #[serde(default)]
            for i, f in enumerate(fields):
                if i < len(items):
                    got[f.name] = self.value(f.type, items[i], node.offs[i], _join(path, f"[{i}]"))
                elif f.required or every:
                    raise MatchError(
                        f"invalid length {len(items)}, expected struct {name} with {len(fields)} elements",
                        node.end - 1,
                        path,
                    )
            if len(items) > len(fields):
                raise MatchError(
                    f"invalid length {len(items)}, expected struct {name} with {len(fields)} elements",
                    node.offs[len(fields)],
                    path,
                )
            self.note(f"{name} written as an array (positional form)")
            return t.cls(**got)
        expected = f"struct {name}" if map_only else f"struct {name} (a map or an array)"
        raise MatchError(f"invalid type: {unexpected(node)}, expected {expected}", off, path)

    # -- internally tagged enums -------------------------------------------

    def tagged(self, variants: list[mi.StructType], node: Any, off: int, path: str) -> Any:
        tag_field = variants[0].tag_field
        tags = [v.tag for v in variants]
        enum = "block" if tag_field == "type" else "event"
        if isinstance(node, JObj):
            tag_node: Any = None
            tag_off = node.start
            seen = False
            for key, koff, val, voff in node.pairs:
                if key == tag_field:
                    if seen:
                        raise MatchError(f"duplicate field `{tag_field}`", koff, path)
                    seen, tag_node, tag_off = True, val, voff
            if not seen:
                raise MatchError(f"missing field `{tag_field}`", node.start, path)
            variant = self._variant(variants, tags, tag_node, tag_off, path, enum)
            return self.struct(variant, node, off, path, skip=tag_field)
        if isinstance(node, JArr):
            if not node.items:
                raise MatchError(f"missing field `{tag_field}`", node.start, path)
            variant = self._variant(variants, tags, node.items[0], node.offs[0], path, enum)
            rest = JArr(node.start)
            rest.items, rest.offs, rest.end = node.items[1:], node.offs[1:], node.end
            return self.struct(variant, rest, off, path)
        raise MatchError(f"invalid type: {unexpected(node)}, expected internally tagged enum", off, path)

    def _variant(self, variants: list[mi.StructType], tags: list[str], tag: Any, off: int, path: str, enum: str) -> mi.StructType:
        if isinstance(tag, str):
            if tag in tags:
                return variants[tags.index(tag)]
            expected = ", ".join(f"`{t}`" for t in tags)
            raise MatchError(f"unknown variant `{tag}`, expected one of {expected}", off, path)
        if type(tag) is int and tag >= 0:
            if tag < len(variants):
                self.note(f"{enum} tag given as variant index {tag} (`{tags[tag]}`)")
                return variants[tag]
            raise MatchError(f"invalid value: integer `{tag}`, expected variant index 0 <= i < {len(variants)}", off, path)
        raise MatchError(f"invalid type: {unexpected(tag)}, expected variant identifier", off, path)


_TI = {cls: mi.type_info(cls) for cls in (m.Compact, m.LegacyCompact, m.HistoryEntry, m.Meta)}
_EVENT_VARIANTS = list(mi.type_info(m.Event).types)

VARIANT_NAMES = ("Compact", "LegacyCompact", "Event", "Entry")


class StepMismatch(Exception):
    """No StepLine variant fits: one MatchError per variant, in serde's order."""

    def __init__(self, failures: list[tuple[str, MatchError]]):
        super().__init__("data did not match any variant of untagged enum StepLine")
        self.failures = failures


def _closest(node: Any, failures: list[tuple[str, MatchError]]) -> tuple[str, MatchError]:
    """The variant the author most likely meant, for a one-line reason."""
    by = dict(failures)
    if isinstance(node, JObj):
        keys = {k for k, _, _, _ in node.pairs}
        for key, variant in (("event", "Event"), ("message", "Entry"), ("archive_name", "Compact"), ("compact", "LegacyCompact")):
            if key in keys:
                return variant, by[variant]
    if isinstance(node, JArr) and node.items:
        first = node.items[0]
        if isinstance(first, str) and first in {v.tag for v in _EVENT_VARIANTS}:
            return "Event", by["Event"]
        return "Entry", by["Entry"]
    return "Entry", by["Entry"]


def match_step(node: Any) -> tuple[Any, list[str]]:
    """Decode a parsed step the way ``#[serde(untagged)] enum StepLine`` does.

    Returns (value, leniency notes); raises StepMismatch.
    """
    failures: list[tuple[str, MatchError]] = []
    for variant, attempt in (
        ("Compact", lambda mt: mt.struct(_TI[m.Compact], node, 0, "", map_only=True)),
        ("LegacyCompact", lambda mt: mt.struct(_TI[m.LegacyCompact], node, 0, "", map_only=True)),
        ("Event", lambda mt: mt.tagged(_EVENT_VARIANTS, node, 0, "")),
        ("Entry", lambda mt: mt.struct(_TI[m.HistoryEntry], node, 0, "")),
    ):
        mt = Matcher()
        try:
            return attempt(mt), mt.notes
        except MatchError as e:
            failures.append((variant, e))
    raise StepMismatch(failures)


def explain_mismatch(node: Any, exc: StepMismatch) -> tuple[str, int]:
    """One-line reason and offset for a step no variant accepts."""
    variant, err = _closest(node, exc.failures)
    where = f" at {err.path}" if err.path else ""
    return f"not a StepLine; as {variant}{where}: {err.message}", err.offset


def match_meta(node: Any) -> tuple[m.Meta, list[str]]:
    mt = Matcher()
    return mt.struct(_TI[m.Meta], node, 0, ""), mt.notes
