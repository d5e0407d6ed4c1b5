"""Redis as the storage stack's KV/response cache tier (G4): options.py declares the settings and the relation to
its container's cap, state.py renders redis.conf, debian.py puts it in place, detect.py reads the live host."""
