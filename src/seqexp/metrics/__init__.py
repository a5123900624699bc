"""Metrics that torchmetrics lacks (e.g. point-adjusted F1), small and tested."""
