"""Models to look at without downloading anything: hand-written ones and transformers
architectures built from their configs with random weights (or on the meta device).

Every function returns ``(model, example_inputs)`` and can be used as a SPEC, e.g.
``nnviz3d inspect nnviz3d.zoo:gpt2``.
"""

from __future__ import annotations

import torch
from torch import nn


class DigitsCNN(nn.Module):
    """A small CNN for scikit-learn's 8x8 digits: two conv blocks, a residual block, a head."""

    def __init__(self, classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()
        )
        self.block = ResidualBlock(width)
        self.down = nn.Sequential(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * width, 64), nn.ReLU(), nn.Linear(64, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.down(self.block(self.stem(x)))))


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


def digits_cnn():
    torch.manual_seed(0)
    return DigitsCNN().eval(), torch.randn(1, 1, 8, 8)


def torch_transformer():
    torch.manual_seed(0)
    model = nn.Transformer(
        d_model=64,
        nhead=4,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=128,
        batch_first=True,
    ).eval()
    return model, (torch.randn(1, 10, 64), torch.randn(1, 7, 64))


def _tokens(n: int = 16, vocab: int = 1000, device=None):
    return torch.randint(0, vocab, (1, n), device=device)


def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config()).eval(), _tokens()


def bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    return BertModel(BertConfig()).eval(), _tokens()


def vit():
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    return ViTForImageClassification(ViTConfig()).eval(), torch.randn(1, 3, 224, 224)


def resnet():
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    return ResNetForImageClassification(ResNetConfig()).eval(), torch.randn(1, 3, 224, 224)


def t5():
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    model = T5ForConditionalGeneration(T5Config(num_layers=6, num_decoder_layers=6)).eval()
    return model, {"input_ids": _tokens(), "decoder_input_ids": _tokens(8)}


def _llama_meta(**cfg):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**cfg)
    with torch.device("meta"):
        model = LlamaForCausalLM(config).eval()
    return model, _tokens(device="meta")


def llama_7b_meta():
    """LLaMA-7B shapes on the meta device: no weights are allocated."""
    return _llama_meta(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        vocab_size=32000,
    )


def llama_70b_meta():
    """LLaMA-2-70B shapes (grouped-query attention, 80 layers) on the meta device."""
    return _llama_meta(
        hidden_size=8192,
        intermediate_size=28672,
        num_hidden_layers=80,
        num_attention_heads=64,
        num_key_value_heads=8,
        vocab_size=32000,
    )
