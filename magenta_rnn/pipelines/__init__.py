"""Dataset pipeline stages (REFERENCE.md "Extraction", "Dataset pipelines"); their statistics are
magenta_rnn.music.statistics."""
