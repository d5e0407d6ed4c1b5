"""A NixOS module-evaluation stand-in that runs the real Nix evaluator (nix-instantiate) on our own module system."""

from devcluster.nixos.evaluate import LIB, NixEvalError, evaluate, evaluate_module_text, parse

__all__ = ["LIB", "NixEvalError", "evaluate", "evaluate_module_text", "parse"]
