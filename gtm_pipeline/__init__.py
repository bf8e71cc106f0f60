"""gtm-pipeline: an AI-native outbound pipeline orchestrated by Dagster.

Layers (each imports only the ones below it): ``cli``/``defs`` -> ``pipeline`` ->
``skills``/``providers`` -> ``store`` -> ``domain``.
"""

__version__ = "0.1.0"
