"""The model families the engine can train, in a module without Keras.

The web process (staff forms) and the CLI need the names; importing
``ml.models`` for them would load Keras into every web worker.

* ``classification``: Zhang, Isola & Efros (2016): logits over quantised ab bins,
  class rebalancing, an annealed-mean decode.
* ``regression``: ab directly (tanh), the approach of the student project this
  engine grew from, which came out washed out.
"""

FAMILIES = ("classification", "regression")
