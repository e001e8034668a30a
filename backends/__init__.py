"""snnc.backends: IR -> model files and target artifacts (NIR export today)."""
