"""Anomaly detection over one labelled series: synthetic (``data=anomaly``), the user's CSV
(``data=anomaly_csv``) and a real series kept in the package (``data=anomaly_real``)."""

from seqexp.data.anomaly.real import CSVAnomalyDataModule, RealAnomalyDataModule
from seqexp.data.anomaly.synthetic import SyntheticAnomalyDataModule

__all__ = ["CSVAnomalyDataModule", "RealAnomalyDataModule", "SyntheticAnomalyDataModule"]
