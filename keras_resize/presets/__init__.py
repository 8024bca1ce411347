"""The presets shipped with keras-resize (one folder each, beside this file).

`list_presets()` names them; `load(name_or_directory)` (or
`Layer.from_preset(...)`) builds the layer and loads its weights. See
`keras_resize.pretrained` for the folder layout.
"""

from keras_resize.pretrained import (
    info,
    list_presets,
    load,
    load_classifier,
    presets_dir,
)

__all__ = ["info", "list_presets", "load", "load_classifier", "presets_dir"]
