"""Primitives every data family shares, and none of them knows a family: the DataModule contract
(``contract``) and what it declares (``spec``), errors, table reading (``table``, ``time_axis``), splits
(``splits``), scaling, window index arithmetic (``windows``: a window starts at its first input row), and loaders (``batching``, ``buckets``,
``padded``, ``resumable``, ``budget``)."""
