"""PartEdit's editing engine: a plain PyTorch library (no Django, no Celery).

Modules: ``generator`` (StyleGAN2), ``checkpoints`` (every model format in and out),
``domain`` (the procedural part-labelled demo domain), ``training`` (GAN training),
and the editing chain built on top of them. Progress and cancellation come in as callbacks.
"""
