"""snnc.compiler: the IR, its verifier, linear-operator helpers and passes."""
