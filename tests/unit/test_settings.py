"""Every service's options are declared once and documented; `hydra settings` prints them; loading refuses
unknown keys with a suggestion and hostile values with a message naming the key."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hydra_ops import PROJECT_ROOT
from hydra_ops.cli import main
from hydra_ops.reference import SERVICES, options_class
from hydra_ops.settings import load, reference
from hydra_ops.validation import ValidationError


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_option_has_a_type_a_default_and_a_doc(service: str) -> None:
    rows = list(reference(options_class(service)))
    assert rows, f"{service} declares no options"
    for name, kind, default, doc in rows:
        assert doc and doc[0].isupper() and doc.endswith((".", ")")), f"{service}.{name}: doc {doc!r}"
        assert kind and default, f"{service}.{name}"


def test_settings_command_prints_every_service() -> None:
    out = CliRunner().invoke(main, ["settings"])
    assert out.exit_code == 0, out.output
    for service in SERVICES:
        assert f"### {service}" in out.output
    assert "| `lb_port` | int (1..65535) | `11400` |" in out.output
    bad = CliRunner().invoke(main, ["settings", "nope"])
    assert bad.exit_code == 2 and "unknown service nope" in bad.output


def test_the_committed_reference_is_what_the_declarations_print() -> None:
    out = CliRunner().invoke(main, ["settings", "--page"])
    assert out.exit_code == 0, out.output
    committed = (PROJECT_ROOT / "docs" / "reference.md").read_text()
    assert committed == out.output, "docs/reference.md is stale: run `hydra settings --page > docs/reference.md`"


def test_no_option_is_declared_by_two_services() -> None:
    seen: dict[str, str] = {}
    for service in SERVICES:
        for name, *_ in reference(options_class(service)):
            assert name not in seen, f"{name} is declared by {seen.get(name)} and {service}"
            seen[name] = service


@pytest.mark.parametrize("value", ["a'b", "$(id)", "`id`", "x\ny", "{{ x }}", "../../etc", "x" * 5000, "\udcff"])
def test_hostile_strings_are_refused_naming_the_key(value: str) -> None:
    ollama = options_class("ollama")
    for key in ("ollama_models_dir", "ollama_release_url", "ollama_user", "ollama_version", "ollama_nix_package"):
        with pytest.raises(ValidationError) as err:
            load(ollama, {key: value}, "h")
        assert err.value.problems[0].startswith(f"{key}: ")
