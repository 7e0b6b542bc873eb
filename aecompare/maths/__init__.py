"""The math, in plain numpy: pixel losses, the common yardstick, the forward pass, diagnostics and the three
questions' explanations. No Keras, no Streamlit, no files."""
