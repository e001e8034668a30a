"""snnc snnc."""
