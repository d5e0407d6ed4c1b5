"""A faithful test double of the Uptime Kuma server's Socket.IO API (the part `uptime-kuma-api` uses)."""
