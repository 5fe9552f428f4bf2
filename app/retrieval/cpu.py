"""What this machine's CPU computes natively (asked of torch, which is imported only when asked)."""

from __future__ import annotations

import functools


@functools.cache
def bfloat16_is_fast() -> bool:
    """The CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); elsewhere bfloat16 is emulated and slower
    than float32."""
    import torch

    for check in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        try:
            if getattr(torch.cpu, check)():
                return True
        except Exception:  # noqa: BLE001 - a private check of torch's; absent means not known to be fast
            continue
    return False
