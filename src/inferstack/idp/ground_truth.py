"""Ground truth out of the review queue: the documents reviewers approved and saved as ground
truth, written as a labelled folder (the kept files and ``labels.json``) that ``idp eval`` and
``idp calibrate`` read, so a deployment can measure and calibrate itself on its own documents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from inferstack.errors import InvalidRequestError
from inferstack.idp.files import stored_file
from inferstack.idp.schemas import BUILTIN_SCHEMAS
from inferstack.idp.store import IdpStore
from inferstack.idp.synth import LABELS_FILE

__all__ = ["export_ground_truth"]


def export_ground_truth(store: IdpStore, files_dir: Path, folder: Path, schema_name: str) -> Path:
    """Copy each ground-truth file of ``schema_name`` into ``folder`` with its labels; returns
    the labels file. A schema that is not built in is written beside them as ``schema.json``."""
    rows = store.ground_truth(schema_name)
    if not rows:
        raise InvalidRequestError(
            f"no ground truth saved for schema {schema_name!r}", param="schema"
        )
    folder.mkdir(parents=True, exist_ok=True)
    documents = {}
    for truth in rows:
        source = stored_file(files_dir, truth.sha256)
        if source is None:
            raise InvalidRequestError(
                f"document {truth.document_id}'s file is not kept in {files_dir}", param="schema"
            )
        name = f"{truth.document_id:06d}-{truth.sha256[:12]}{source.suffix}"
        shutil.copyfile(source, folder / name)
        documents[name] = truth.values
    schema_ref = schema_name
    if schema_name not in BUILTIN_SCHEMAS:
        row = store.get(rows[0].document_id)
        if row is None:  # the foreign key keeps it; a hand-edited database may not
            raise InvalidRequestError(f"document {rows[0].document_id} is gone", param="schema")
        schema_file = (folder / "schema.json").resolve()
        schema_file.write_text(json.dumps(row.schema, indent=1))
        schema_ref = str(schema_file)
    labels = folder / LABELS_FILE
    labels.write_text(
        json.dumps({"schema": schema_ref, "source": "review", "documents": documents}, indent=1)
    )
    return labels
