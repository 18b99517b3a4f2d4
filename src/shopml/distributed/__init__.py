"""Beyond one machine: the same shopml jobs on Ray (DESIGN.md §6).

- :mod:`shopml.distributed.batch`: batch inference over every user / customer / row with Ray
  Data, written to Parquet; the ``local`` engine does the same with plain batched calls;
- :mod:`shopml.distributed.tune`: hyper-parameter search over the space each model declares
  (``search_space``), evaluated on a validation split, on Ray Tune or locally;
- :mod:`shopml.distributed.train`: data-parallel training of the torch models (SASRec, the torch
  predictors: MLP, DeepFM, DCN-v2, GRU) with Ray Train and DistributedDataParallel;
- :mod:`shopml.benchmarks.engine` (above this layer): a benchmark suite run as one Ray task
  (``shopml bench``);
- :mod:`shopml.distributed.engine`: choosing the engine and connecting to Ray (``--address``).

Ray is optional (``pip install shopml[distributed]``) and imported only when the ray engine runs.
"""
