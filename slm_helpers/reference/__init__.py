"""NumPy reference implementations, written to be read and proven equal to Keras.

Submodules: ``rnn`` (SimpleRNN with BPTT, LSTM, GRU), ``attention`` (attention, masks,
multi-head, positional encoding, layer norm, Transformer block) and ``losses`` (losses and
metrics). Each function is compared with its framework counterpart in a unit test.
"""
