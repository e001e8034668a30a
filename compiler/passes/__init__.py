"""snnc compiler/passes."""
