"""A tiny, randomly initialised Stable Diffusion pipeline, built offline for the tests.

No diffusion model ships in a package, so the ``diffusers`` backend is tested on one made
from configs: a UNet with blocks (32, 64), a VAE with blocks (32, 64), a two-layer CLIP
text encoder of width 32 and a word-level tokenizer, saved with ``save_pretrained`` the
way a real model folder is laid out. Its pictures are noise: it tests the code paths
(loading, seeding, progress, interrupting, the PNG out), never what a picture shows.

``tiny_ip_adapter`` adds random IP-Adapter weights and a tiny CLIP image encoder in the
``ip_adapter/`` sub-folder the backend looks for, so the identity path runs too.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

_VOCAB = (
    "a portrait of woman man in red blue coat hat smiling park city night the with and "
    "her his long short hair"
).split()
_MAX_TOKENS = 16
_CROSS_DIM = 32
_IMAGE_EMBED_DIM = 16

_lock = threading.Lock()
_built: dict[Path, Path] = {}


def tiny_pipeline(folder: Path, seed: int = 0) -> Path:
    """The tiny model's folder under ``folder``, built once per process; another ``seed``
    makes another model (other random weights: other pictures from the same request)."""
    target = folder / ("tiny-sd" if seed == 0 else f"tiny-sd-{seed}")
    with _lock:
        if target not in _built:
            _built[target] = _build(target, seed)
        return _built[target]


def tiny_ip_adapter(folder: Path) -> Path:
    """A copy of the tiny model carrying IP-Adapter weights in ``ip_adapter/``."""
    base = tiny_pipeline(folder)
    with _lock:
        key = folder / "tiny-sd-ip-adapter"
        if key not in _built:
            target = folder / "tiny-sd-ip-adapter"
            shutil.copytree(base, target, dirs_exist_ok=True)
            _add_ip_adapter(target / "ip_adapter")
            _built[key] = target
        return _built[key]


def _tokenizer() -> object:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|pad|>", "<|startoftext|>", "<|endoftext|>", "<|unk|>"]
    vocab = {word: index for index, word in enumerate(specials + _VOCAB)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|unk|>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<|pad|>",
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|unk|>",
        model_max_length=_MAX_TOKENS,
    )


def _build(target: Path, seed: int = 0) -> Path:
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=_CROSS_DIM,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=32,
        sample_size=64,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(_VOCAB) + 4,
            hidden_size=_CROSS_DIM,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=_MAX_TOKENS,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=_tokenizer(),
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    pipe.save_pretrained(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _add_ip_adapter(folder: Path) -> None:
    """Random plain IP-Adapter weights for the tiny UNet, in the layout diffusers loads."""
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(1)
    unet = UNet2DConditionModel.from_pretrained(folder.parent / "unet")
    tensors: dict[str, torch.Tensor] = {
        "image_proj.proj.weight": torch.randn(_CROSS_DIM * 4, _IMAGE_EMBED_DIM) * 0.02,
        "image_proj.proj.bias": torch.zeros(_CROSS_DIM * 4),
        "image_proj.norm.weight": torch.ones(_CROSS_DIM),
        "image_proj.norm.bias": torch.zeros(_CROSS_DIM),
    }
    # diffusers numbers the cross-attention processors 1, 3, 5, ... in attn_processors order.
    key_id = 1
    channels = unet.config.block_out_channels
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name[len("up_blocks.")])]
        else:
            hidden = channels[int(name[len("down_blocks.")])]
        for part in ("to_k_ip", "to_v_ip"):
            tensors[f"ip_adapter.{key_id}.{part}.weight"] = torch.randn(hidden, _CROSS_DIM) * 0.02
        key_id += 2
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "ip-adapter_tiny.safetensors"))
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
            projection_dim=_IMAGE_EMBED_DIM,
        )
    )
    encoder.save_pretrained(folder / "image_encoder")
