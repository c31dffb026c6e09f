"""Pictures of the training jobs: labelled sample grids and images (`grids`), loss curves, metric plots and 2-D
scatter panels (`plots`). matplotlib and Pillow, the `[viz]` extra."""
