"""The event-sequence core: NoteSequences, MIDI, quantization, event types, encoders.

Knows nothing of models and imports no TensorFlow.
"""
