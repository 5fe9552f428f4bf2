"""Settings dialog: which model (bundled, local folder, GGUF file, hub id), device, window size, top-k, the
method (fast or exact) and whether documents are indexed when they open."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.ui.app_settings import (
    CANDIDATE_TOKENS_RANGE,
    DEVICES,
    METHODS,
    MODEL_KINDS,
    TOP_K_RANGE,
    WINDOW_TOKENS_RANGE,
    AppSettings,
)

KIND_LABELS = {
    "bundled": "Bundled model (SmolLM2-135M)",
    "folder": "Local model folder",
    "gguf": "GGUF file",
    "hub": "Hugging Face hub id",
}
PATH_HINTS = {
    "bundled": "",
    "folder": "/path/to/model-folder",
    "gguf": "/path/to/model.gguf",
    "hub": "HuggingFaceTB/SmolLM2-360M-Instruct",
}
DEVICE_LABELS = {"auto": "Automatic", "cpu": "CPU", "cuda": "CUDA (NVIDIA GPU)", "mps": "MPS (Apple GPU)"}
METHOD_LABELS = {"auto": "Fast (recommended)", "full": "Exact full pass (slow)"}
METHOD_TIP = (
    "Fast: keyword search and sentence meaning (the document's indexes, built in the background when it opens) "
    "pick a few thousand tokens, which the model reads with the InfiniRetri loop: seconds, even for thousands of "
    "pages (short documents are read whole). Exact: the model reads every window of the document for every "
    "question, the paper's method: minutes for a long document. Question ▸ Ask with a Full Pass does it once."
)


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.kind = QComboBox()
        for kind in MODEL_KINDS:
            self.kind.addItem(KIND_LABELS[kind], kind)
        self.path = QLineEdit()
        self.browse = QPushButton("Browse…")
        self.device = QComboBox()
        for device in DEVICES:
            self.device.addItem(DEVICE_LABELS[device], device)
        self.window_tokens = QSpinBox(
            minimum=WINDOW_TOKENS_RANGE[0], maximum=WINDOW_TOKENS_RANGE[1], singleStep=128, suffix=" tokens"
        )
        self.top_k = QSpinBox(minimum=TOP_K_RANGE[0], maximum=TOP_K_RANGE[1], singleStep=10)
        self.candidate_tokens = QSpinBox(
            minimum=CANDIDATE_TOKENS_RANGE[0], maximum=CANDIDATE_TOKENS_RANGE[1], singleStep=512, suffix=" tokens"
        )
        self.candidate_tokens.setToolTip(
            "The fast method: how much of the best-ranked text the model reads for each question. More can find "
            "more on a GPU; on a CPU each 1,000 tokens adds a few seconds."
        )
        self.method = QComboBox()
        for method in METHODS:
            self.method.addItem(METHOD_LABELS[method], method)
        self.method.setToolTip(METHOD_TIP)
        self.index_on_open = QCheckBox("Index documents when they open")
        self.index_on_open.setToolTip(
            "Build the document's attention index in the background while you read; a question pauses it and "
            "it resumes afterwards. A stopped build resumes the next time the document is opened."
        )
        self.deep_meaning = QCheckBox("Then read every sentence closely for meaning")
        self.deep_meaning.setToolTip(
            "After the attention index, read the document's sentences again with a larger model "
            "(all-mpnet-base-v2), which finds passages worded differently from the question more often. It takes "
            "several minutes for a 300-page manual on a laptop's CPU, in the background; questions use the quick "
            "reading until it is done (one asked at once after opening has its best 100 sentences read by the "
            "larger model, loaded as indexing starts)."
        )
        self._settings = settings
        self._build_layout()
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.browse.clicked.connect(self._browse)
        self.set_settings(settings)

    def _build_layout(self) -> None:
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.browse)
        form = QFormLayout()
        form.addRow("Model", self.kind)
        form.addRow("Location", path_row)
        form.addRow("Device", self.device)
        form.addRow("Window size", self.window_tokens)
        form.addRow("Top-k tokens", self.top_k)
        form.addRow("Method", self.method)
        form.addRow("Read per question", self.candidate_tokens)
        form.addRow("Indexing", self.index_on_open)
        form.addRow("", self.deep_meaning)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            lambda: self.set_settings(AppSettings())
        )
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def set_settings(self, settings: AppSettings) -> None:
        self.kind.setCurrentIndex(max(0, self.kind.findData(settings.model_kind)))
        self.path.setText(settings.model_path)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))
        self.window_tokens.setValue(settings.window_tokens)
        self.top_k.setValue(settings.top_k)
        self.method.setCurrentIndex(max(0, self.method.findData(settings.method)))
        self.candidate_tokens.setValue(settings.candidate_tokens)
        self.index_on_open.setChecked(settings.index_on_open)
        self.deep_meaning.setChecked(settings.deep_meaning)
        self._kind_changed()

    def settings(self) -> AppSettings:
        """What the dialog shows; settings it does not show (the passage order) are kept."""
        kind = str(self.kind.currentData())
        return replace(
            self._settings,
            model_kind=kind,
            model_path="" if kind == "bundled" else self.path.text().strip(),
            device=str(self.device.currentData()),
            window_tokens=self.window_tokens.value(),
            top_k=self.top_k.value(),
            method=str(self.method.currentData()),
            candidate_tokens=self.candidate_tokens.value(),
            index_on_open=self.index_on_open.isChecked(),
            deep_meaning=self.deep_meaning.isChecked(),
        )

    def _kind_changed(self) -> None:
        kind = str(self.kind.currentData())
        self.path.setEnabled(kind != "bundled")
        self.browse.setEnabled(kind in ("folder", "gguf"))
        self.path.setPlaceholderText(PATH_HINTS[kind])

    def _browse(self) -> None:
        kind = str(self.kind.currentData())
        if kind == "folder":
            chosen = QFileDialog.getExistingDirectory(self, "Model folder", self.path.text())
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "GGUF model", self.path.text(), "GGUF models (*.gguf)")
        if chosen:
            self.path.setText(chosen)
