"""The local viewer: trees and long thoughts in a browser, on 127.0.0.1 (see `python -m eval.viewer --help`)."""
