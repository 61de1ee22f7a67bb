"""The two choices a person makes when re-colouring a photo, in words a person understands.

* **Working size**: the model looks at a shrunk copy of the photo whose shorter side is this many
  pixels (ml.inference.working_scale; the default is the size the model learnt at) and paints
  colours at that size; the photo's own sharpness is always kept, because only
  the colours are taken from the model and laid over the full-resolution original
  (ml.inference).  Larger sizes tell small things apart (a face in a crowd, a sign on a shop) but
  take longer and can make large areas patchier; smaller sizes give broad, calmer colour.
* **Colour strength**: a multiplier on the model's calibrated saturation (``Colorizer.saturation``,
  chosen on the validation photos together with the decode, kept in the model's model.json).
  "natural" is the calibrated colour; "muted" and "vivid" scale the chroma in Lab down or up, which
  keeps every hue and only changes how strong it is: the most natural range of the three knobs the
  decode has (a temperature or correction change moves the hues too).

The chosen strength is stored on the photo (the run it asks for) and on each kept result
(gallery.models.Colouring); the task reads it by the photo's id, so a message carries only ids.
"""

from __future__ import annotations

MUTED, NATURAL, VIVID = "muted", "natural", "vivid"

# strength -> multiplier of the model's calibrated saturation
STRENGTHS = {MUTED: 0.75, NATURAL: 1.0, VIVID: 1.3}

STRENGTH_CHOICES = [
    (MUTED, "muted"),
    (NATURAL, "natural"),
    (VIVID, "vivid"),
]

STRENGTH_HELP = {
    MUTED: "softer, faded colours, like an old hand-tinted print",
    NATURAL: "the colours the model was tuned to give",
    VIVID: "stronger colours; can look painted on skin and sky",
}

WORKING_SIZE_HELP = (
    "How closely the model looks at your photo before choosing colours: it works on a copy whose "
    "shorter side is this many pixels. Your photo keeps all its sharpness at any size; only the "
    "colours come from the copy. The recommended size is the one the model learnt at. Larger sizes "
    "separate small things (faces in a crowd, signs) but take longer and can paint big things less "
    "surely; smaller sizes give broader, calmer colour."
)

# Short words beside each size in the form's list.
_SIZE_WORDS = {128: "broad colour, fastest", 512: "finer detail", 1024: "finest detail, slowest"}


def saturation(colorizer, strength: str) -> float:
    """The chroma scale for a colouring at ``strength`` with this loaded model."""
    return float(getattr(colorizer, "saturation", 1.0)) * STRENGTHS.get(strength, 1.0)


def size_label(size: int, default: int) -> str:
    """An option's text in the working-size list, e.g. "256 px (recommended)"."""
    words = "recommended" if size == default else _SIZE_WORDS.get(size)
    return f"{size} px ({words})" if words else f"{size} px"
