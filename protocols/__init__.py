"""The shared language: data types, the action vocabulary, problem sets, answer checking."""
