"""Pure functions behind the top-level ``train.py`` and ``evaluate.py`` scripts."""
