"""Image settings: which backend renders, where it is, and how identity is held to account.

Wired into ``afterdark.config.Settings`` as its ``images`` section
(``AFTERDARK_IMAGES__BACKEND`` and so on). With ``backend = "none"`` (the default: no
diffusion model ships in a package) nothing renders and the UI says how to set one up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

BackendName = Literal["none", "comfyui", "forge", "diffusers"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImagesSettings(_Section):
    backend: BackendName = Field(
        default="none",
        description="Which renderer makes pictures: comfyui, forge, diffusers (a local model "
        "folder or file), or none (pictures off).",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8188",
        description="comfyui or forge: the server's address (ComfyUI listens on 8188, "
        "Forge/A1111 on 7860).",
    )
    api_key: SecretStr | None = Field(
        default=None, description="comfyui or forge: a bearer token, if the server wants one."
    )
    workflow: str = Field(
        default="sdxl_instantid",
        description="comfyui: the workflow to queue, a shipped one (sdxl_basic, "
        "sdxl_instantid, flux_pulid) or the stem of a JSON file in workflows_dir.",
    )
    workflows_dir: Path | None = Field(
        default=None,
        description="comfyui: a folder of your own API-format workflow files with "
        "placeholders (see docs/images.md); they take precedence over the shipped ones.",
    )
    model_path: Path | None = Field(
        default=None,
        description="diffusers: a model folder (save_pretrained layout) or a single "
        ".safetensors/.ckpt file.",
    )
    device: str = Field(
        default="auto", description="diffusers: cpu, cuda, cuda:1 or auto (cuda when present)."
    )
    forge_model: str = Field(
        default="", description="forge: the checkpoint title to render with (empty: current)."
    )
    premium_workflow: str = Field(
        default="",
        description="comfyui: the workflow of the premium image model (a shipped one or the "
        "stem of a file in workflows_dir); empty: no premium model is offered.",
    )
    premium_forge_model: str = Field(
        default="",
        description="forge: the checkpoint title premium pictures render with; empty: no "
        "premium model is offered.",
    )
    premium_model_path: Path | None = Field(
        default=None,
        description="diffusers: the premium model, a folder or a .safetensors/.ckpt file like "
        "model_path (loaded on the first premium picture); unset: no premium model is offered.",
    )
    forge_face_module: str = Field(
        default="InsightFace (InstantID)",
        description="forge: the ControlNet preprocessor fed the reference face.",
    )
    forge_face_model: str = Field(
        default="ip-adapter_instant_id_sdxl",
        description="forge: the ControlNet/IP-Adapter model fed the reference face.",
    )
    width: int = Field(default=832, ge=64, le=2048, multiple_of=8, description="Picture width.")
    height: int = Field(default=1216, ge=64, le=2048, multiple_of=8, description="Picture height.")
    steps: int = Field(default=28, ge=1, le=150, description="Sampling steps.")
    guidance: float = Field(default=5.0, ge=0.0, le=30.0, description="CFG scale.")
    identity_threshold: float = Field(
        default=0.6,
        ge=0.2,
        le=1.0,
        description="Face distance to the reference at or below which a render counts as "
        "the same person (dlib 128-d encodings); above it the render is re-rolled.",
    )
    max_tries: int = Field(
        default=3, ge=1, le=10, description="Renders tried per picture before the best is kept."
    )
    nsfw_threshold: float = Field(
        default=0.5,
        ge=0.05,
        le=1.0,
        description="NudeNet detection score at or above which an exposed region counts.",
    )
    chat_triggers: bool = Field(
        default=True,
        description="Make a picture, at the picture price, when a user asks for one in words "
        "in a chat ('send me a photo of you…') or the character writes [picture: …].",
    )
    timeout: float = Field(
        default=600.0, gt=0, description="Seconds one render may take before it is abandoned."
    )

    @property
    def premium_offered(self) -> bool:
        """Whether the configured backend has a premium model set (only then is premium a
        choice)."""
        if self.backend == "comfyui":
            return bool(self.premium_workflow.strip())
        if self.backend == "forge":
            return bool(self.premium_forge_model.strip())
        if self.backend == "diffusers":
            return self.premium_model_path is not None
        return False
