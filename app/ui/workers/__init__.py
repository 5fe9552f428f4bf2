"""The worker layer: runs the core off the GUI thread and talks to the UI through typed signals.

Only this package calls the core for the GUI; widgets and controllers see jobs, their signals and the
messages in :mod:`app.ui.workers.messages`.
"""

from app.ui.workers.ask_job import AskJob, passage_rects
from app.ui.workers.document_jobs import LoadDocumentJob, WarmUpJob
from app.ui.workers.engine import Engine
from app.ui.workers.index_job import IndexJob, LexicalIndexJob, WordVectorsJob
from app.ui.workers.jobs import Job, JobRunner, JobSignals
from app.ui.workers.messages import (
    AskOutcome,
    DocumentLoaded,
    FailureKind,
    IndexOutcome,
    JobFailure,
    ModelLoaded,
)
from app.ui.workers.model_holder import ModelChoice, ModelHolder

__all__ = [
    "AskJob",
    "AskOutcome",
    "DocumentLoaded",
    "Engine",
    "FailureKind",
    "IndexJob",
    "IndexOutcome",
    "Job",
    "JobFailure",
    "JobRunner",
    "JobSignals",
    "LexicalIndexJob",
    "LoadDocumentJob",
    "ModelChoice",
    "ModelHolder",
    "ModelLoaded",
    "WarmUpJob",
    "WordVectorsJob",
    "passage_rects",
]
