"""Test infrastructure for hydra-ops: stand-ins for platforms that cannot run here."""
