"""MusicVAE: converters, configs, the TF2 model and its training CLI (REFERENCE.md "MusicVAE")."""
