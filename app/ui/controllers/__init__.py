"""Controllers between the main window's widgets and the worker layer: opening documents, asking,
the passages of an answer, and the question history. Each owns one concern and reports by signals."""
