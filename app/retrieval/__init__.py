"""The InfiniRetri core: models, attention scoring at one layer, the sliding-window loop, answers.

Public API (no Qt here):
    load_model(spec="bundled", device="auto", on_progress=None) -> LoadedModel    (models.py)
    answer(text, sentences, question, model, settings, on_progress, on_token, cancel) -> AnswerResult
    retrieve(text, sentences, question, model, settings, on_progress, cancel) -> RetrievalResult
    generate_answer(model, text, passages, question, on_token, cancel, max_new_tokens) -> str
"""
