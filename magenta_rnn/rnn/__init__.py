"""The shared events RNN: model, bundles, V1 checkpoint import (imports TensorFlow lazily)."""
