"""The question job: get the model (loading it if needed), retrieve and generate, streaming progress."""

from __future__ import annotations

from typing import Any

from app.retrieval.types import AnswerResult, RetrievalSettings
from app.ui.workers.engine import Engine
from app.ui.workers.jobs import Job
from app.ui.workers.messages import AskOutcome, ModelLoaded, Rects
from app.ui.workers.model_holder import ModelChoice, ModelHolder


def passage_rects(document: Any, result: AnswerResult) -> list[Rects]:
    """Each passage's (page, rectangle) pairs; empty lists for a text file."""
    if getattr(document, "kind", "text") != "pdf":
        return [[] for _ in result.passages]
    return [list(document.rects_for(p.start, p.end)) for p in result.passages]


class AskJob(Job):
    """Load the model if needed, then retrieve and generate, streaming progress and tokens."""

    title = "Could not answer the question"

    def __init__(
        self,
        engine: Engine,
        holder: ModelHolder,
        choice: ModelChoice,
        document: Any,
        question: str,
        settings: RetrievalSettings,
    ) -> None:
        super().__init__()
        self.engine, self.holder, self.choice = engine, holder, choice
        self.document, self.question, self.settings = document, question, settings

    def work(self) -> AskOutcome:
        model, fresh = self.holder.get(
            self.engine, self.choice, lambda p: self.emit_progress(p, min_interval=0.05), self.token
        )
        loaded = ModelLoaded.of(model, self.choice.spec)
        if fresh:
            self.signals.post("modelLoaded", loaded)
        self.token.raise_if_cancelled()
        result = self.engine.answer(
            self.document.text,
            self.document.sentences,
            self.question,
            model,
            settings=self.settings,
            on_progress=self.emit_progress,
            on_token=lambda piece: self.signals.post("token", piece),
            cancel=self.token,
        )
        self.token.raise_if_cancelled()
        return AskOutcome(self.question, result, passage_rects(self.document, result), loaded.name, loaded.device)
