"""Speech: finding it (VAD), understanding it (STT) and, later, speaking (TTS)."""
