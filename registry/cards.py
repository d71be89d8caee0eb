"""Model cards, after "Model Cards for Model Reporting" (Mitchell et al., 2019).

A card has nine sections. The registry fills what it knows (model details, metrics,
training data with its feature statistics and lineage); people fill the rest, through the
API or a YAML file whose top-level keys are section names. Every change is a numbered
revision, ``draft`` or ``approved``. Rendering lists the sections still empty as missing.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.card_render import PRINT_CSS, format_value, sections_html
from registry.database import Database
from registry.errors import RegistryError
from registry.models import ModelRegistry, ModelVersion, whoami
from registry.monitoring import Monitoring
from registry.tables import ModelCardRow, ModelRow, ModelVersionRow, ProjectRow, utc_now
from registry.training_sets import TrainingSets

__all__ = ["HUMAN_SECTIONS", "SECTIONS", "ModelCard", "ModelCards"]

SECTIONS: dict[str, str] = {
    "model_details": "Model details",
    "intended_use": "Intended use",
    "factors": "Factors",
    "metrics": "Metrics",
    "evaluation_data": "Evaluation data",
    "training_data": "Training data",
    "quantitative_analyses": "Quantitative analyses",
    "ethical_considerations": "Ethical considerations",
    "caveats_and_recommendations": "Caveats and recommendations",
}
HUMAN_SECTIONS = (
    "intended_use",
    "factors",
    "evaluation_data",
    "quantitative_analyses",
    "ethical_considerations",
    "caveats_and_recommendations",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCard:
    """A card revision: sections filled by the registry merged with those written by people."""

    model: str
    version: int
    revision: int
    status: str
    sections: Mapping[str, Any]
    created_by: str
    created_at: datetime

    @property
    def missing(self) -> list[str]:
        """Sections still empty."""
        return [key for key in SECTIONS if not self.sections.get(key)]

    def to_markdown(self) -> str:
        lines = [
            f"# Model card: {self.model} v{self.version}",
            "",
            f"Revision {self.revision}, {self.status}, by {self.created_by} on "
            f"{self.created_at:%Y-%m-%d %H:%M} UTC.",
            "",
        ]
        if self.missing:
            missing = ", ".join(SECTIONS[m] for m in self.missing)
            lines += [f"**Missing sections:** {missing}.", ""]
        for key, title in SECTIONS.items():
            lines += [f"## {title}", "", _markdown(self.sections.get(key)), ""]
        return "\n".join(lines)

    def to_html(self) -> str:
        """A self-contained page (inline style with print rules, no external resources):
        the sections as prose and tables, rendered by :mod:`registry.card_render` as in the
        web UI."""
        title = f"Model card: {html.escape(self.model)} v{self.version}"
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{title}</title><style>{PRINT_CSS}</style></head><body><main>",
            f"<h1>{title}</h1>",
            f'<p>Revision {self.revision}, <span class="status">{html.escape(self.status)}'
            f"</span>, by {html.escape(self.created_by)} on "
            f"{self.created_at:%Y-%m-%d %H:%M} UTC.</p>",
        ]
        if self.missing:
            missing = ", ".join(SECTIONS[m] for m in self.missing)
            parts.append(f'<p class="missing"><strong>Missing sections:</strong> {missing}.</p>')
        parts.append(sections_html(self.sections, SECTIONS))
        parts.append("</main></body></html>")
        return "\n".join(parts)


class ModelCards:
    """Card revisions of one project's model versions."""

    def __init__(self, db: Database, models: ModelRegistry, training_sets: TrainingSets) -> None:
        self._db = db
        self._models = models
        self._training_sets = training_sets

    def get(self, model: str, version: int) -> ModelCard:
        """The latest revision (a draft filled by the registry alone when none was written)."""
        found = self._models.get_version(model, version=version)
        with self._db.read() as session:
            row = session.scalars(
                select(ModelCardRow)
                .where(ModelCardRow.model_version_id == self._version_id(model, version))
                .order_by(ModelCardRow.revision.desc())
                .limit(1)
            ).one_or_none()
        human = dict(row.content) if row is not None else {}
        return ModelCard(
            model=model,
            version=version,
            revision=row.revision if row is not None else 0,
            status=row.status if row is not None else "draft",
            sections={**self._known(found), **human},
            created_by=row.created_by if row is not None else found.created_by,
            created_at=row.created_at if row is not None else found.created_at,
        )

    def update(
        self,
        model: str,
        version: int,
        sections: Mapping[str, Any] | None = None,
        *,
        yaml_path: Path | None = None,
        by: str | None = None,
    ) -> ModelCard:
        """Write sections (merged over the previous revision's) as a new draft revision.

        ``quantitative_analyses`` may hold sliced metrics as ``{slice: {metric: value}}``.
        """
        given = dict(sections or {})
        if yaml_path is not None:
            given.update(_read_yaml(yaml_path))
        unknown = sorted(set(given) - set(HUMAN_SECTIONS))
        if unknown:
            raise RegistryError(
                f"card sections {', '.join(unknown)} cannot be written: the registry fills "
                f"model_details, metrics and training_data; people write "
                f"{', '.join(HUMAN_SECTIONS)}"
            )
        _check_sliced(given.get("quantitative_analyses"))
        previous = self.get(model, version)
        content = {k: v for k, v in previous.sections.items() if k in HUMAN_SECTIONS}
        measured = (content.get("quantitative_analyses") or {}).get("online_experiments")
        content.update(given)
        if measured and isinstance(content.get("quantitative_analyses"), dict):
            # Evidence recorded by promotions stays, whatever people rewrite around it.
            content["quantitative_analyses"] = {
                **content["quantitative_analyses"],
                "online_experiments": measured,
            }
        return self._write(model, version, "draft", content, by)

    def approve(self, model: str, version: int, *, by: str | None = None) -> ModelCard:
        """A new revision with the same content, approved."""
        previous = self.get(model, version)
        content = {k: v for k, v in previous.sections.items() if k in HUMAN_SECTIONS}
        return self._write(model, version, "approved", content, by)

    def _write(
        self, model: str, version: int, status: str, content: dict[str, Any], by: str | None
    ) -> ModelCard:
        version_id = self._version_id(model, version)
        with self._db.write() as session:
            number = session.scalar(
                select(func.max(ModelCardRow.revision)).where(
                    ModelCardRow.model_version_id == version_id
                )
            )
            session.add(
                ModelCardRow(
                    model_version_id=version_id,
                    revision=(number or 0) + 1,
                    status=status,
                    content=json.loads(json.dumps(content, default=str)),
                    created_by=by or whoami(),
                    created_at=utc_now(),
                )
            )
        return self.get(model, version)

    def _version_id(self, model: str, version: int) -> int:
        self._models.get_version(model, version=version)  # raises when unknown
        with self._db.read() as session:
            return session.scalars(
                select(ModelVersionRow.id)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .join(ProjectRow, ProjectRow.id == ModelRow.project_id)
                .where(
                    ProjectRow.name == self._models.project,
                    ModelRow.name == model,
                    ModelVersionRow.version == version,
                )
            ).one()

    def _known(self, version: ModelVersion) -> dict[str, Any]:
        details = {
            "name": version.model,
            "version": version.version,
            "type": version.model_type,
            "parameters": dict(version.params),
            "owner": version.created_by,
            "registered": version.created_at.isoformat(),
            "description": version.description,
            "input_features": list(version.input_features),
            "classes": list(version.classes),
        }
        known: dict[str, Any] = {"model_details": details}
        if version.metrics:
            known["metrics"] = dict(version.metrics)
        if version.training_set is not None:
            record = self._training_sets.get(self._models.project, version.training_set)
            known["training_data"] = {
                "training_set": record.name,
                "fingerprint": record.fingerprint,
                "rows": record.row_count,
                "entity_time_range": [
                    t.isoformat() if t else None
                    for t in (record.entity_time_min, record.entity_time_max)
                ],
                "features": [
                    f"{f.feature_view}:{f.feature} (view v{f.version})" for f in record.features
                ],
                "feature_statistics": dict(record.statistics),
            }
            runs = Monitoring(self._db).validation_runs(
                self._models.project, training_set=record.name
            )
            if runs:
                known["training_data"]["data_validation"] = [
                    {
                        "feature_view": f"{run.feature_view} v{run.version}",
                        "rows": run.row_count,
                        "passed": run.passed,
                        "checks": [
                            f"{c.description}: {'passed' if c.passed else 'FAILED'} "
                            f"({_observed(c.observed)})"
                            for c in run.checks
                        ],
                    }
                    for run in reversed(runs)
                ]
        return known


def record_online_evidence(
    session: Session, version_id: int, evidence: Mapping[str, Any], by: str
) -> None:
    """Append an online experiment's evidence to a card's quantitative analyses, in the
    caller's transaction (a promotion records it with its revision). The card keeps its
    status: the evidence is measured, not a claim anyone approved or has to."""
    latest = session.scalars(
        select(ModelCardRow)
        .where(ModelCardRow.model_version_id == version_id)
        .order_by(ModelCardRow.revision.desc())
        .limit(1)
    ).one_or_none()
    content = dict(latest.content) if latest is not None else {}
    analyses = dict(content.get("quantitative_analyses") or {})
    analyses["online_experiments"] = [*analyses.get("online_experiments", []), dict(evidence)]
    content["quantitative_analyses"] = analyses
    session.add(
        ModelCardRow(
            model_version_id=version_id,
            revision=(latest.revision if latest is not None else 0) + 1,
            status=latest.status if latest is not None else "draft",
            content=json.loads(json.dumps(content, default=str)),
            created_by=by,
            created_at=utc_now(),
        )
    )


def _check_sliced(value: Any) -> None:
    if value is None:
        return
    sliced = value.get("sliced_metrics") if isinstance(value, Mapping) else None
    if sliced is None:
        return
    if not isinstance(sliced, Mapping) or not all(
        isinstance(m, Mapping) and all(isinstance(x, int | float) for x in m.values())
        for m in sliced.values()
    ):
        raise RegistryError(
            "quantitative_analyses.sliced_metrics must be {slice: {metric: number}}, e.g. "
            "{'tier=premium': {'auc': 0.91}}"
        )


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"{path}: cannot read the card: {exc}") from exc
    if not isinstance(loaded, dict):
        raise RegistryError(f"{path}: expected a mapping of card sections to their content")
    return loaded


def _markdown(value: Any) -> str:
    if not value:
        return "_Missing._"
    if isinstance(value, Mapping):
        rows = []
        for key, item in value.items():
            if isinstance(item, Mapping) and all(
                not isinstance(v, Mapping | list) for v in item.values()
            ):
                inner = ", ".join(f"{k}: {v}" for k, v in item.items())
                rows.append(f"- **{key}**: {inner}")
            else:
                text = item if isinstance(item, str) else json.dumps(item, default=str)
                rows.append(f"- **{key}**: {text}")
        return "\n".join(rows)
    if isinstance(value, list):
        return "\n".join(f"- {item}" for item in value)
    return str(value)


def _observed(observed: Mapping[str, Any]) -> str:
    """A check's observations as text, numbers rounded."""
    return ", ".join(f"{k} {format_value(v)}" for k, v in observed.items())
