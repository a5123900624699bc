"""seqexp: Lightning + Hydra experiments for recurrent sequence models."""

__version__ = "0.1.0"
