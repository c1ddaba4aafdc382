"""StyleGAN2 training: losses, DiffAugment, data sources, resumable snapshots and the loop."""

from .dataset import DatasetError, ImageFolder, ProceduralFaces, open_source
from .training_loop import (
    TrainingConfig,
    TrainingError,
    TrainingResult,
    default_discriminator_config,
    default_generator_config,
    train_gan,
)

__all__ = [
    "DatasetError",
    "ImageFolder",
    "ProceduralFaces",
    "TrainingConfig",
    "TrainingError",
    "TrainingResult",
    "default_discriminator_config",
    "default_generator_config",
    "open_source",
    "train_gan",
]
