"""Test in production and continual learning: experiment analysis, bandits, interleaving,
promotion on evidence and retraining.

Chapter 9's loop back from production. A deployment already routes traffic to A/B arms,
a canary beside the primary, or shadows; this package says which is better and acts on it:

- :mod:`~store.experiments.statistics`: the tests (two-proportion z, Welch's t, sample-ratio
  mismatch, delta-method lift, Holm's correction, anytime-valid confidence sequences and
  sample sizes), pure functions of per-arm sufficient statistics;
- :mod:`~store.experiments.bandit`: Thompson sampling shares for bandit deployments;
- :mod:`~store.experiments.interleaving`: team-draft interleaving of two rankers and the
  credit of clicks;
- :mod:`~store.experiments.analysis`: the experiment report, from per-arm aggregates the
  predictions log computes in SQL;
- :mod:`~store.experiments.runner`: experiments acted on: plans, reports, promotion on
  evidence (the champion and challenger gate), bandit reweighting;
- :mod:`~store.experiments.ranking`: rankings through deployments, interleaved when two
  versions are deployed to be compared;
- :mod:`~store.experiments.retraining`: retraining policies evaluated and run.

May import ``registry``, :mod:`store.serving` (the predictions log and routing),
:mod:`store.definitions` (retraining policies), :mod:`store.monitoring` and the shared leaf
modules (errors, epoch); never the offline or online stores directly: the facade hands in
what it needs of them (features online, training sets) as functions.
"""
