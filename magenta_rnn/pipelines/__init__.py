"""Dataset pipeline stages and their statistics (REFERENCE.md "Extraction", "Dataset pipelines")."""
