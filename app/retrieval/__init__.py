"""The InfiniRetri core: models, attention at one layer, the sliding-window loop, the document's indexes,
answers. No Qt here.

Public API:
    load_model(spec="bundled", device="auto", on_progress=None, cancel=None) -> LoadedModel     (models.py)
    answer(text, sentences, question, model, settings, on_progress, on_token, cancel) -> AnswerResult
    retrieve(text, sentences, question, model, settings, on_progress, cancel) -> RetrievalResult  (pipeline.py)
    build_index(text, sentences, model, settings, on_progress, cancel, should_pause) -> IndexReport  (indexing.py)
    lexical_index(text, sentences) -> LexicalIndex                                               (lexical.py)

Modules, from the bottom up:
    attention, scoring        one layer's question-to-context attention; InfiniRetri's token scores
    units, prompt             the tokenised document and its windows; the chat prompt around the context
    loop                      the InfiniRetri loop over windows (full pass) or over chosen sentences
    segment_store             checksummed, resumable append-only arrays on disk
    index_store, index_scoring, indexing    the attention index: storage, scoring a question, building it
    lexical, embeddings       BM25 over sentences; sentence embeddings (all-MiniLM-L6-v2)
    sources, candidates       each index's ranking of the sentences; choosing what the loop reads
    calibration, speed        the scoring layer and retrieval heads; how fast the loop reads here
    generation, pipeline      the answer; the modes (auto, full, indexed) put together
"""
