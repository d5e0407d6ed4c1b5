"""The LiteLLM gateway (G5): options.py declares the settings and their relations, state.py renders config.yaml from
the inventory, debian.py puts it in place (and pulls the CPU fallback's models), detect.py reads the live host."""
