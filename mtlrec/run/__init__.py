"""The floor every stage stands on: where a data root keeps things, the run summary, the model artifact.

Stages never import each other; what one stage made, another finds through these:
a table path and Delta version, a model folder, a report folder.
"""
