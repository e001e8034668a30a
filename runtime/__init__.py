"""snnc.runtime: engines that execute the IR (float reference engine today)."""
