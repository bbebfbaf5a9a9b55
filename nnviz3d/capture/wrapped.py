"""Module paths as the user wrote them, through the wrappers FSDP1 and activation
checkpointing put between a module and its parent."""

WRAPPED = ("_fsdp_wrapped_module", "_checkpoint_wrapped_module")
"""The child names FSDP1's nested wrappers (``auto_wrap_policy``) and activation checkpointing
insert; FSDP1's own ``named_parameters`` cleans its names the same way."""


def clean_path(path: str) -> str:
    """``"layers.0._fsdp_wrapped_module.attn"`` -> ``"layers.0.attn"``."""
    if "_wrapped_module" not in path:
        return path
    return ".".join(part for part in path.split(".") if part not in WRAPPED)
