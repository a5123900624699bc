"""Backbones: a configurable recurrent encoder and sequence pooling. No data or Hydra here."""

from seqexp.models.encoder import RecurrentEncoder, build_encoder
from seqexp.models.pooling import pool_sequence

__all__ = ["RecurrentEncoder", "build_encoder", "pool_sequence"]
