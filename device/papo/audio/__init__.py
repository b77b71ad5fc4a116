"""Sound in: recordings, input devices, resampling to the pipeline's 16 kHz mono frames."""

SAMPLE_RATE = 16_000
FRAME_SAMPLES = 512  # 32 ms at 16 kHz: the frame size Silero VAD takes
