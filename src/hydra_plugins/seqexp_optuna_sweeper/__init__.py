"""seqexp's Hydra sweeper over Optuna >= 4: ``hydra/sweeper=seqexp_optuna`` (``hparams_search=sine_optuna`` selects it).

Hydra finds it as it finds every plugin: it imports the modules of the ``hydra_plugins`` namespace package
(``config`` registers the configs, ``optuna_sweeper`` holds the ``Sweeper`` class); ``_search`` and Optuna
are imported only when a search starts.
"""
