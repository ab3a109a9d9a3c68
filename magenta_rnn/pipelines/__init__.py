"""Dataset pipeline stages and their statistics (facts §5, §6)."""
