"""Label views: judgments about entities (reviews, ground truth, reward signals), written by
several labelers who may disagree, and joined into training sets point-in-time.

A label view is a feature view whose rows are labels: each row is one labeler's judgment of
one entity at one time, the labeler named in ``labeler_field``. Everything a feature view
does it does (apply, materialize, online reads, pushes); what differs is how a training set
reads it. For each entity row at time ``t`` the labels written at or before ``t`` are
resolved by the ``conflict_policy``, as in Feast 0.67:

- ``LAST_WRITE_WINS`` (default): the newest label row, whoever wrote it (ties in event time
  broken by the created column): the feature view's own join.
- ``LABELER_PRIORITY``: the newest row of the highest-ranked labeler in
  ``labeler_priority`` that has written one; labelers not listed rank below every listed
  one, and among them the newest row wins. Feast has no place on the view for the ranking
  (its resolver takes it as an argument), so ``labeler_priority`` is Silage's; without it
  the policy is last write wins, as in Feast.
- ``MAJORITY_VOTE``: per label, the value written most often (nulls do not vote); a tie
  goes to the value voted for last, then to the greater value. The labeler column then
  reads ``'majority_vote'``, as in Feast.

Resolving as of each entity row's time is what keeps the labels leakage-free: a label
written after the entity row's time never reaches it, however the conflict is decided. A
``ttl`` bounds the age of the newest label. The online store keeps the newest write per
entity (last write wins), as Feast's does.

Example:
    >>> from store import Entity, Field, FileSource
    >>> from store.types import Int64, String
    >>> driver = Entity(name="driver", join_keys=["driver_id"])
    >>> labels = LabelView(
    ...     name="driver_quality", entities=[driver],
    ...     schema=[Field(name="is_reliable", dtype=Int64), Field(name="labeler", dtype=String)],
    ...     source=FileSource(path="data/labels.parquet", timestamp_field="event_timestamp"),
    ...     conflict_policy=ConflictPolicy.MAJORITY_VOTE)
    >>> labels.label_fields, labels.to_spec()["label"]["conflict_policy"]
    (['is_reliable'], 'majority_vote')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from store.definitions.feature_view import FeatureView
from store.errors import DefinitionError
from store.types import String

__all__ = ["ConflictPolicy", "LabelView"]


class ConflictPolicy(Enum):
    """How labels of one entity from several labelers resolve (Feast's names and values)."""

    LAST_WRITE_WINS = "last_write_wins"
    LABELER_PRIORITY = "labeler_priority"
    MAJORITY_VOTE = "majority_vote"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelView(FeatureView):
    """A feature view of labels (Feast's ``LabelView`` signature, plus ``labeler_priority``).

    Args:
        labeler_field: the schema field naming who wrote each label (``"labeler"``).
        conflict_policy: a :class:`ConflictPolicy` or its value, e.g. ``"majority_vote"``.
        labeler_priority: labelers from highest to lowest rank, for ``LABELER_PRIORITY``.
        reference_feature_view: the feature view whose entities these labels annotate
            (informational, as in Feast).

    The other arguments are a :class:`FeatureView`'s.
    """

    labeler_field: str = "labeler"
    conflict_policy: ConflictPolicy | str = ConflictPolicy.LAST_WRITE_WINS
    labeler_priority: Sequence[str] = ()
    reference_feature_view: str | None = None

    def __post_init__(self) -> None:
        FeatureView.__post_init__(self)
        where = f"label view {self.name!r}"
        policy = self.conflict_policy
        if not isinstance(policy, ConflictPolicy):
            try:
                policy = ConflictPolicy(str(getattr(policy, "value", policy)).lower())
            except ValueError:
                choices = ", ".join(f"ConflictPolicy.{p.name}" for p in ConflictPolicy)
                raise DefinitionError(
                    f"{where}: conflict_policy={self.conflict_policy!r} is unknown; use {choices}"
                ) from None
        object.__setattr__(self, "conflict_policy", policy)
        priority = tuple(self.labeler_priority or ())
        if any(not isinstance(name, str) for name in priority) or len(set(priority)) < len(
            priority
        ):
            raise DefinitionError(
                f"{where}: labeler_priority must list distinct labeler names, highest first, "
                f"e.g. labeler_priority=['human', 'llm_judge']"
            )
        if priority and policy is not ConflictPolicy.LABELER_PRIORITY:
            raise DefinitionError(
                f"{where}: labeler_priority ranks labelers for "
                f"conflict_policy=ConflictPolicy.LABELER_PRIORITY; this view resolves by "
                f"{policy.name}; drop labeler_priority or change the policy"
            )
        object.__setattr__(self, "labeler_priority", priority)
        fields = {f.name: f for f in self.features}
        if policy is not ConflictPolicy.LAST_WRITE_WINS:
            labeler = fields.get(self.labeler_field)
            if labeler is None:
                raise DefinitionError(
                    f"{where}: conflict_policy {policy.name} needs the labeler column "
                    f"{self.labeler_field!r} in the schema; add Field(name="
                    f"{self.labeler_field!r}, dtype=String) or set labeler_field"
                )
            if labeler.dtype != String:
                raise DefinitionError(
                    f"{where}: the labeler field {self.labeler_field!r} is "
                    f"{labeler.dtype.spec}; labelers are named by String values"
                )
            if not self.label_fields:
                raise DefinitionError(
                    f"{where}: the schema holds only the labeler field; add the labels"
                )

    def __hash__(self) -> int:
        return hash(self.content_hash)

    @property
    def label_fields(self) -> list[str]:
        """The labels: the features other than the labeler field."""
        return [f.name for f in self.features if f.name != self.labeler_field]

    @property
    def policy(self) -> ConflictPolicy:
        """The conflict policy as the enum (declarations may pass its value)."""
        return ConflictPolicy(self.conflict_policy)

    @property
    def resolves_by_row(self) -> bool:
        """Whether a training set reads the newest row as is (the feature view's join):
        last write wins, or labeler priority without a ranking."""
        return self.policy is ConflictPolicy.LAST_WRITE_WINS or (
            self.policy is ConflictPolicy.LABELER_PRIORITY and not self.labeler_priority
        )

    def to_spec(self) -> dict[str, Any]:
        """The feature view's spec with ``type: label`` and the label settings."""
        spec = FeatureView.to_spec(self)
        spec["type"] = "label"
        spec["label"] = {
            "labeler_field": self.labeler_field,
            "conflict_policy": self.policy.value,
            "labeler_priority": list(self.labeler_priority),
            "reference_feature_view": self.reference_feature_view,
        }
        return spec

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> LabelView:
        """Rebuild a label view from its registry spec."""
        base = FeatureView.from_spec({k: v for k, v in spec.items() if k not in {"type", "label"}})
        label = spec["label"]
        return cls(
            **{f.name: getattr(base, f.name) for f in dataclasses.fields(FeatureView)},
            labeler_field=label["labeler_field"],
            conflict_policy=ConflictPolicy(label["conflict_policy"]),
            labeler_priority=tuple(label["labeler_priority"]),
            reference_feature_view=label["reference_feature_view"],
        )
