"""Primitives every data family shares, and none of them knows a family: the DataModule contract
(``contract``) and what it declares (``spec``), errors, table reading (``table``, ``time_axis``), splits
(``splits``), scaling, window index arithmetic (``windows``), and loaders (``batching``, ``buckets``,
``padded``, ``resumable``, ``budget``)."""
