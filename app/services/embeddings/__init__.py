"""Embeddings: the model, the encoder, vectors in DuckDB, similarity search over them."""
