"""Tokenizers (word, char) and a vocabulary built on the training split only.

Both are plain Python and reduce to plain values (``state_dict``), so a checkpoint carries them
and evaluation or prediction on new text uses exactly the mapping the model was trained with.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from seqexp.data.core.errors import DataError

PAD, UNK = "<pad>", "<unk>"
LEVELS = ("word", "char")
# Words (with inner apostrophes: "don't", "it's") or single punctuation marks; \w is Unicode-aware.
WORD_PATTERN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


@dataclass(frozen=True)
class Tokenizer:
    """``level="word"``: regex split into words and punctuation; ``level="char"``: one token per character."""

    level: str = "word"
    lowercase: bool = True

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise DataError(f"data.tokenizer.level must be one of {LEVELS}, got {self.level!r}")

    def __call__(self, text: str, limit: int | None = None) -> list[str]:
        """The tokens of ``text``; with ``limit``, the first ``limit`` only (a long text is not tokenized to its end)."""
        if self.lowercase:
            text = text.lower()
        if self.level == "word":
            return WORD_PATTERN.findall(text) if limit is None else [match.group() for match in islice(WORD_PATTERN.finditer(text), limit)]
        return list(islice(" ".join(text.split()), limit))  # whitespace runs -> one space

    def state_dict(self) -> dict[str, Any]:
        return {"level": self.level, "lowercase": self.lowercase}


class Vocabulary:
    """Token <-> id. Id 0 is ``<pad>``, id 1 is ``<unk>``; the rest by falling frequency, then alphabetically."""

    def __init__(self, tokens: list[str]) -> None:
        if tokens[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}; got {tokens[:2]}")
        self.tokens = list(tokens)
        self.index = {token: position for position, token in enumerate(self.tokens)}

    padding_index = 0
    unknown_index = 1

    @classmethod
    def build(cls, texts: Iterable[list[str]], min_freq: int = 1, max_size: int | None = None) -> "Vocabulary":
        """From tokenized training texts: tokens seen at least ``min_freq`` times, the ``max_size`` most frequent."""
        if min_freq < 1:
            raise DataError(f"data.vocab.min_freq={min_freq}: must be an integer >= 1")
        if max_size is not None and max_size < 3:
            raise DataError(f"data.vocab.max_size={max_size}: must be null or an integer >= 3 (<pad>, <unk> and one token)")
        counts = Counter(token for tokens in texts for token in tokens)
        counts.pop(PAD, None)
        counts.pop(UNK, None)
        kept = sorted((token for token, count in counts.items() if count >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls([PAD, UNK, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.index.get(token, self.unknown_index) for token in tokens]

    def state_dict(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens)}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "Vocabulary":
        return cls(list(state["tokens"]))
