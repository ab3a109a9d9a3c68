"""Dataset pipeline stages (facts §5, §6); their statistics are magenta_rnn.music.statistics."""
