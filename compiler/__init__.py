"""snnc.compiler: the IR, its verifiers, the arithmetic of every target, the passes and the
pipeline that runs them."""
