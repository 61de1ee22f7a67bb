import os

# TensorFlow's start-up chatter (oneDNN, CPU features) buries the CLI's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .cli import main  # noqa: E402

raise SystemExit(main())
