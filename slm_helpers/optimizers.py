"""Adam with TensorFlow's fused update kernel: the same arithmetic as ``keras.optimizers.Adam``,
in one pass over memory.

Why it matters here: the lesson 08 classifiers train a 1 M-parameter embedding in small
batches on a CPU. Keras' Adam updates every parameter with about a dozen separate tensor
operations, each reading and writing the whole 4 MB embedding (and its two moment
tensors), which costs more per batch than the convolutions themselves. TensorFlow's
``ApplyAdam`` kernel does the same update in one pass::

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1)
    v += (g^2 - v) * (1 - beta_2)
    w -= (m * alpha) / (sqrt(v) + epsilon)

which is, line for line, what ``keras.optimizers.Adam.update_step`` computes on a dense
gradient (a unit test checks they give the same weights, to 1e-5). The embedding's
gradient, a sparse ``IndexedSlices``, is summed into a dense tensor first, so every row's
moments decay at every step: standard Adam, not "lazy" Adam.

One measured difference: given the ``IndexedSlices`` itself, Keras 3's Adam squares each
occurrence of a row separately (``ops.square`` acts on the slices' values), so when a
token occurs twice in a batch its second moment gets ``g1^2 + g2^2`` instead of
``(g1 + g2)^2``. Adam's definition, and this class, use the square of the summed gradient
(the unit test shows both behaviours).
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _fused_adam_class() -> type:
    """Define the class on first use, so that importing this module does not import Keras."""
    import keras

    @keras.saving.register_keras_serializable(package="slm_helpers")
    class FusedAdam(keras.optimizers.Adam):
        """``keras.optimizers.Adam`` whose per-variable update is TensorFlow's fused ``ApplyAdam``.

        Same constructor, same configuration, same results as Keras' Adam on dense
        gradients; falls back to Keras' own update on other backends and with ``amsgrad=True``.
        """

        def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
            if self.amsgrad or keras.backend.backend() != "tensorflow":
                return super().update_step(gradient, variable, learning_rate)
            import tensorflow as tf

            dtype = variable.dtype
            step = keras.ops.cast(self.iterations + 1, dtype)
            beta_1, beta_2 = keras.ops.cast(self.beta_1, dtype), keras.ops.cast(self.beta_2, dtype)
            index = self._get_variable_index(variable)
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle,
                m=self._momentums[index].handle,
                v=self._velocities[index].handle,
                beta1_power=keras.ops.power(beta_1, step),
                beta2_power=keras.ops.power(beta_2, step),
                lr=keras.ops.cast(learning_rate, dtype),
                beta1=beta_1,
                beta2=beta_2,
                epsilon=keras.ops.cast(self.epsilon, dtype),
                grad=tf.convert_to_tensor(keras.ops.cast(gradient, dtype)),  # IndexedSlices -> dense (summed)
            )
            return None

    return FusedAdam


def register() -> type:
    """Make ``FusedAdam`` known to Keras' loader; returns the class.

    A model saved while compiled with ``FusedAdam`` (lesson 08's classifiers) names it in
    its ``config.json``; ``keras.saving.load_model`` can only rebuild it once the class has
    been defined in this process. ``slm_helpers.sharing.load_model`` calls this first.
    """
    return _fused_adam_class()


def __getattr__(name: str) -> Any:
    """``from slm_helpers.optimizers import FusedAdam`` imports Keras then, not before."""
    if name == "FusedAdam":
        return _fused_adam_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
