"""Smoke checks for G3 (audit Part 7: "no plaintext secrets in config files"): secret files 0600 as intended,
and no secret value anywhere else on any host. Needs the operator's age key to know the values."""

from __future__ import annotations

import pytest

from hydra_ops.leaks import files_containing, modes, secret_bearing_files
from hydra_ops.secrets import SecretStore
from hydra_ops.services.secrets.options import options as validate_secrets
from hydra_ops.targets import Target, ssh_command, targets


@pytest.fixture(scope="module")
def hosts(cluster_name: str) -> list[Target]:
    return targets(cluster_name)


class TestSecrets:
    """G3: secrets reach hosts only as private files."""

    def test_secret_files_are_private_and_owned_as_intended(self, hosts: list[Target]) -> None:
        import testinfra

        for target in hosts:
            cfg = validate_secrets(target.data, target.name)
            if not cfg.secret_files:
                continue
            host = testinfra.get_host(target.testinfra_url)
            folder = host.file(cfg.secret_dir)
            assert folder.is_directory and folder.mode == 0o700 and folder.user == "root", target.name
            for item in cfg.secret_files:
                f = host.file(f"{cfg.secret_dir}/{item.secret}")
                assert f.exists, f"{target.name}: {item.secret} missing"
                assert (f.mode, f.user, f.group) == (0o600, item.owner, item.group), f"{target.name}: {f.path}"

    def test_no_secret_value_outside_the_secret_files(self, hosts: list[Target], cluster_name: str) -> None:
        for target in hosts:
            ssh = ssh_command(target, cluster_name)
            values = SecretStore.from_data(target.data).read()
            holders = files_containing(ssh, values)
            allowed = secret_bearing_files(ssh, target.data)
            strays = {path: names for path, names in holders.items() if path not in allowed}
            assert strays == {}, f"{target.name}: secret values (by name) found in {strays}"
            loose = {p: m for p, m in modes(ssh, sorted(holders)).items() if not m.startswith("600 ")}
            assert loose == {}, f"{target.name}: secret-bearing files not 0600: {loose}"
