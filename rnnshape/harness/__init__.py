"""``verify``: rebuild the model code without running top-level statements, feed it synthetic
tensors of the tracked shapes in a subprocess, and compare what ran with what was claimed.

Only ``child.py`` imports torch, and only inside the subprocess.
"""
