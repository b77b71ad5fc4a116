"""Keep CrewAI, ChromaDB and Hugging Face libraries offline and quiet: no telemetry, no hub, no tracing."""

from __future__ import annotations

import os

PRIVATE_ENVIRONMENT = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_STORAGE_DIR": "",
    "OTEL_SDK_DISABLED": "true",
    "ANONYMIZED_TELEMETRY": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}


def keep_offline(storage_dir: str | None = None) -> None:
    """Set the variables before the libraries are imported (they read them at import time)."""
    for name, value in PRIVATE_ENVIRONMENT.items():
        if name == "CREWAI_STORAGE_DIR":
            if storage_dir is not None:
                os.environ[name] = storage_dir
            continue
        os.environ[name] = value
