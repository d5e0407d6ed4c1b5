"""Models (G11): the mirror, the staging directory and every model with each file's pinned sha256."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from hydra_ops.settings import AbsPath, Options, Url, load, pattern

#: one path component: ASCII letters, digits, . _ - (Python's \w takes every script's letters and digits), never
#: "." or ".." (a model's dest or revision joined under a directory must stay inside it)
_PART = r"(?!\.\.?(?:/|$))[A-Za-z0-9_.-]+"
_file = pattern(rf"^{_PART}(/{_PART})*$", "a safe relative file name")
_sha = pattern(r"^[0-9a-f]{64}$", "a sha256")
Plain = Annotated[str, AfterValidator(pattern(rf"^{_PART}$", "a plain name (letters, digits, . _ -; not . or ..)"))]


class Model(BaseModel):
    """One model: fetched as <base>/<repo>/resolve/<revision>/<file> into <tabby_model_dir>/<dest>."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    repo: Annotated[str, AfterValidator(pattern(rf"^{_PART}/{_PART}$", "owner/name"))] = Field(
        description="Repository on the mirror, owner/name.")
    revision: Plain = Field(description="Branch or commit of that repository.")
    dest: Plain = Field(description="Directory name under tabby_model_dir.")
    files: dict[str, str] = Field(description="Every file to fetch: name -> sha256 (the mirror's LFS object id).")

    @field_validator("files")
    @classmethod
    def _pinned(cls, files: dict[str, str]) -> dict[str, str]:
        if not files:
            raise ValueError("no files pinned; list each file with its sha256 (nothing is downloaded unchecked)")
        bad = []
        for name in sorted(files):
            if ".." in name or not _ok(_file, name):
                bad.append(f"{name!r} is not a safe relative file name")
            elif not _ok(_sha, files[name]):
                bad.append(f"{name!r} has no valid sha256")
        if bad:
            raise ValueError("; ".join(bad))
        return files


def _ok(check: Any, value: str) -> bool:
    try:
        check(value)
    except ValueError:
        return False
    return True


class ModelsOptions(Options):
    """hydra-ai's models: fetched file by file, sha256-checked, resumable, moved into place only when complete."""

    prefixes = ("model_",)

    model_base_url: Url = Field("https://huggingface.co", description="Base URL of the Hugging Face style mirror.")
    model_download_dir: AbsPath = Field("/mnt/models/.incoming", description="Staging for incomplete downloads; on "
                                        "tabby_model_dir's filesystem so the finished model moves atomically.")
    tabby_models: list[Model] = Field(
        default_factory=lambda: [{"repo": "turboderp/Llama-3.3-70B-Instruct-exl2", "revision": "4.0bpw",
                                  "dest": "Llama-3.3-70B-Instruct-exl2-4.0bpw", "files": {}}],
        description="Models to fetch (G11: Llama 3.3 70B EXL2 4.0bpw); no file is pinned by default, so the deploy "
                    "refuses until each file's sha256 is listed.")


def options(data: Mapping[str, Any], host: str) -> ModelsOptions:
    """A host's validated model settings."""
    return load(ModelsOptions, data, host)
