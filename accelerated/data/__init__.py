"""Data made in code for the training jobs: the captioned coloured shapes and their adherence read-back (`shapes`).
The moving-shapes videos live beside the video networks (accelerated/models/video.py)."""
