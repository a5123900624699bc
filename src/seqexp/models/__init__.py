"""Backbones: a configurable recurrent encoder, LSTM-FCN, and sequence pooling. No data or Hydra here."""

from seqexp.models.encoder import LSTMFCNEncoder, RecurrentEncoder, build_encoder
from seqexp.models.pooling import pool_sequence

__all__ = ["LSTMFCNEncoder", "RecurrentEncoder", "build_encoder", "pool_sequence"]
