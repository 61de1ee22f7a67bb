"""How the networks' output grid relates to the image.

Kept apart from ``ml.models`` so that code which only needs these numbers (the
inference pipeline, the web process) does not import Keras.
"""

# The networks predict ab on a grid 4 times coarser than their input...
OUTPUT_STRIDE = 4
# ...and their deepest features are 8 times coarser, so input sides must be multiples of 8.
INPUT_MULTIPLE = 8

# The architectures (ml.models) and the multiple their input sides must be: the deepest features' stride.
ARCHITECTURES = ("lite0_unet", "scratch")
INPUT_MULTIPLES = {"lite0_unet": 32, "scratch": INPUT_MULTIPLE}
