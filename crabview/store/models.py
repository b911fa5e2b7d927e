"""msgspec models of everything in a crabtalk 0.0.22 store.

These types serve twice: msgspec decodes well-formed files straight into
them (the fast path), and the exact decoder (``serde.py``) walks the same
definitions to reproduce serde's verdict on odd files, then builds the
same objects. Field order is serde's declaration order: it decides the
positional (array) form, and it is the order the daemon writes keys in.

Integer widths follow the daemon: token counts are u32, everything else
unsigned is u64.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

import msgspec

U32 = Annotated[int, msgspec.Meta(ge=0, le=(1 << 32) - 1)]
# msgspec cannot bound an int at 2**64-1 (and would accept bigger ones), so
# the fast path stops at i64 and leaves the rare larger values to the exact
# path, which reads the true width from ``extra``.
U64 = Annotated[int, msgspec.Meta(ge=0, le=(1 << 63) - 1, extra={"serde_max": (1 << 64) - 1})]

# --- content blocks (internally tagged by "type") -------------------------


class TextBlock(msgspec.Struct, tag_field="type", tag="text", gc=False):
    text: str


class ThinkingBlock(msgspec.Struct, tag_field="type", tag="thinking", omit_defaults=True, gc=False):
    thinking: str = ""
    signature: str | None = None


class ToolUseBlock(msgspec.Struct, tag_field="type", tag="tool_use", gc=False):
    id: str
    name: str
    input: Any


class ToolResultBlock(msgspec.Struct, tag_field="type", tag="tool_result", omit_defaults=True, gc=False):
    """A tool's output. ``content`` is untagged: a string, else a list of blocks.

    crabtalk 0.0.22's wire message has no ``is_error``: such a key is unknown
    and ignored like any other (FORMAT.md 5, changed 2026-12-01).
    """

    tool_use_id: str
    content: ToolResultContent
    name: str | None = None


class ImageBlock(msgspec.Struct, tag_field="type", tag="image", gc=False):
    source: Any


# Order = serde variant index (a tag may also be given as this integer).
Block = Union[TextBlock, ThinkingBlock, ToolUseBlock, ToolResultBlock, ImageBlock]
# An untagged enum: serde tries the string first, then the list of blocks.
ToolResultContent = Union[str, list[Block]]
BLOCK_TYPES: tuple[type, ...] = (TextBlock, ThinkingBlock, ToolUseBlock, ToolResultBlock, ImageBlock)


class Message(msgspec.Struct, gc=False):
    role: str
    content: list[Block]


class HistoryEntry(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """A replayable history entry. ``agent`` empty = the session's own agent."""

    agent: str = ""
    message: Message


# --- events (internally tagged by "event") --------------------------------


class ToolCall(msgspec.Struct, omit_defaults=True, gc=False):
    id: str
    name: str
    arguments: str = ""


class CompletionTokensDetails(msgspec.Struct, omit_defaults=True, gc=False):
    reasoning_tokens: U32 | None = None


class Usage(msgspec.Struct, omit_defaults=True, gc=False):
    prompt_tokens: U32
    completion_tokens: U32
    total_tokens: U32
    completion_tokens_details: CompletionTokensDetails | None = None
    prompt_cache_hit_tokens: U32 | None = None
    prompt_cache_miss_tokens: U32 | None = None


class ToolStartEvent(msgspec.Struct, tag_field="event", tag="tool_start", gc=False):
    calls: list[ToolCall]
    ts: str


class ToolResultEvent(msgspec.Struct, tag_field="event", tag="tool_result", gc=False):
    call_id: str
    duration_ms: U64
    ts: str


class DoneEvent(msgspec.Struct, tag_field="event", tag="done", gc=False):
    model: str
    iterations: U64
    stop_reason: str
    usage: Usage
    ts: str


class UserSteeredEvent(msgspec.Struct, tag_field="event", tag="user_steered", gc=False):
    content: str
    ts: str


Event = Union[ToolStartEvent, ToolResultEvent, DoneEvent, UserSteeredEvent]
EVENT_TYPES: tuple[type, ...] = (ToolStartEvent, ToolResultEvent, DoneEvent, UserSteeredEvent)

# --- compact boundaries (untagged; never accepted in array form) ----------


class Compact(msgspec.Struct, gc=False):
    archive_name: str
    archived_at: str


class LegacyCompact(msgspec.Struct, omit_defaults=True, gc=False):
    compact: str
    title: str = ""
    archived_at: str = ""


# Structs whose ``Option`` fields carry no ``#[serde(default)]``: absent or
# null is fine in a map, but the positional (array) form needs every field
# (``Usage`` as ``[1, 2, 3]`` fails; FORMAT.md 5.1).
ARRAY_NEEDS_EVERY_FIELD: frozenset[type] = frozenset({CompletionTokensDetails, Usage})

StepValue = Union[Compact, LegacyCompact, ToolStartEvent, ToolResultEvent, DoneEvent, UserSteeredEvent, HistoryEntry]

# --- meta -----------------------------------------------------------------


class Meta(msgspec.Struct, gc=False):
    agent: str
    created_by: str
    created_at: str
    title: str = ""
    updated_at: str = ""
    message_count: U64 = 0
    summary: str | None = None


# --- memory.db ------------------------------------------------------------

MEMORY_KINDS = {0: "note", 1: "archive", 2: "topic"}


class MemoryEntry(msgspec.Struct, gc=False):
    id: int
    created_at: int
    kind: str
    name: str
    content: str
    aliases: list[str]


# The kinds a step file can get; the vocabulary of ``show --json``.
KIND_ENTRY = "entry"
KIND_EVENT = "event"
KIND_COMPACT = "compact"
KIND_LEGACY = "legacy_compact"
KIND_UNPARSABLE = "unparsable"
KIND_UNREADABLE = "unreadable"
KINDS = (KIND_ENTRY, KIND_EVENT, KIND_COMPACT, KIND_LEGACY, KIND_UNPARSABLE, KIND_UNREADABLE)


def kind_of(value: Any) -> str:
    """The verdict kind for a decoded step value."""
    t = type(value)
    if t is HistoryEntry:
        return KIND_ENTRY
    if t is Compact:
        return KIND_COMPACT
    if t is LegacyCompact:
        return KIND_LEGACY
    return KIND_EVENT
