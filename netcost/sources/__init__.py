"""Model sources: what a model argument names (a bundled spec, a YAML file, an inline
spec, a torch ``package.module:callable``, an ONNX file), resolved once into an object
that yields what the analyses need (see DESIGN.md, "Data flow")."""
