"""`mtlrec export`: a run's trained model as a file an online server loads without mtlrec.

The graph (ONNX, or TorchScript) takes vocabulary indexes and standardised dense
features and returns each task's probability, corrected for negative down-sampling.
Beside it: the vocabulary (id -> index) and `serving.json`, which says how to build
the inputs from raw ids and feature values.
"""
