"""Migration operations of the audit app, for services' own migrations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from shared.audit import triggers


class TrackHistory(Operation):
    """Record every insert, update and delete of a model's rows in the row history, by triggers.

    Usage, in a migration that depends on ``("audit", "0001_initial")`` and comes after the
    model's creation::

        TrackHistory("painentry", exclude=["note"])

    ``exclude`` names fields (or columns) whose values must never be copied into the history,
    e.g. free text a patient wrote: the history row leaves them out, and an update lists them in
    ``changed_fields`` when they changed, so the fact of the edit remains. The model's state is
    not changed, so ``makemigrations`` never sees this operation.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, exclude: Iterable[str] = ()) -> None:
        self.model_name = model_name
        self.exclude = list(exclude)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"exclude": self.exclude} if self.exclude else {}
        return self.__class__.__qualname__, [self.model_name], kwargs

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            triggers.history_install(schema_editor, model, self.exclude)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            triggers.history_drop(schema_editor, model)

    def describe(self) -> str:
        excluded = f" (without {', '.join(self.exclude)})" if self.exclude else ""
        return f"Record the row history of {self.model_name}{excluded}"

    @property
    def migration_name_fragment(self) -> str:
        return f"track_history_{self.model_name.lower()}"
