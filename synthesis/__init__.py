"""The four long-thought construction attempts and the machinery to run them."""
