"""snnc.frontends: model files (NIR, lava-dl netx, snnc text) -> float IR."""
