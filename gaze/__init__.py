"""GAZE: a self-hosted asset library and generation front end for ComfyUI."""
