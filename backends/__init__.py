"""snnc.backends: IR and core map -> files: NIR and spiking ONNX exports; the Lava network,
Tianjic core files and the simulator's program that a target's `emit` list names."""
