"""Predict recipe: label texts with a trained classifier, using the vocabulary and label names
saved in its checkpoint (no dataset needed).

    python -m seqexp.predict ckpt_path=<run>/checkpoints/last.ckpt 'text="a gripping, funny film"'
    python -m seqexp.predict ckpt_path=... file=reviews.txt output_file=predictions.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from seqexp.config import ConfigError
from seqexp.console import user_errors_are_short
from seqexp.data.padded import PaddedSequenceDataset
from seqexp.data.text import TextDataModule, TextEncoder
from seqexp.tasks.classification import ClassificationTask


def read_texts(cfg: DictConfig) -> list[str]:
    """``text`` (one string or a list) and/or ``file`` (one text per line, blank lines skipped)."""
    texts = [] if cfg.text is None else [cfg.text] if isinstance(cfg.text, str) else list(cfg.text)
    if cfg.file is not None:
        path = Path(cfg.file)
        if not path.is_file():
            raise ConfigError(f"file={cfg.file}: no such file")
        try:
            texts += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError as error:
            raise ConfigError(f"file={cfg.file}: not valid UTF-8 at byte {error.start}") from None
    if not texts:
        raise ConfigError('nothing to predict: give text="..." or file=<one text per line>')
    return texts


def load_classifier(ckpt_path: str | Path) -> tuple[ClassificationTask, TextEncoder, list[str]]:
    """The task and the text encoder (tokenizer, vocabulary, max_length) stored in a checkpoint."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise ConfigError(f"ckpt_path={ckpt_path}: no such file")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint.get(TextDataModule.__qualname__)
    if state is None:
        raise ConfigError(f"ckpt_path={ckpt_path}: holds no text vocabulary; was it trained with data=text or data=text_csv?")
    task = ClassificationTask.load_from_checkpoint(path, map_location="cpu")
    task.eval()
    return task, TextEncoder.from_state_dict(state["encoder"]), list(state["class_names"])


@torch.no_grad()
def predict(cfg: DictConfig) -> list[dict]:
    task, encoder, class_names = load_classifier(cfg.ckpt_path)
    texts = read_texts(cfg)
    sequences = [encoder(text) for text in texts]
    empty = [index for index, sequence in enumerate(sequences) if len(sequence) == 0]
    if empty:
        raise ConfigError(f"text number {empty[0] + 1} has no tokens: {texts[empty[0]]!r}")
    dataset = PaddedSequenceDataset(sequences, torch.zeros(len(texts), dtype=torch.long), padding_value=encoder.vocabulary.padding_index)
    results = []
    for start in range(0, len(texts), cfg.batch_size):
        indices = list(range(start, min(start + cfg.batch_size, len(texts))))
        probabilities = torch.softmax(task(dataset.__getitems__(indices)), dim=1)
        for index, row in zip(indices, probabilities.tolist()):
            best = max(range(len(row)), key=row.__getitem__)
            results.append({"text": texts[index], "label": class_names[best], "probabilities": dict(zip(class_names, row))})
    for result in results:
        shares = "  ".join(f"{name}={p:.3f}" for name, p in result["probabilities"].items())
        print(f"{result['label']}\t{shares}\t{result['text']}")
    if cfg.output_file is not None:
        Path(cfg.output_file).write_text("".join(json.dumps(result) + "\n" for result in results), encoding="utf-8")
        print(f"Wrote {len(results)} predictions to {Path(cfg.output_file).resolve()}", file=sys.stderr)  # stdout: predictions only
    return results


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
@user_errors_are_short
def main(cfg: DictConfig) -> None:
    predict(cfg)


if __name__ == "__main__":
    main()
