"""Generator models with their part-label taxonomies, and images with their files and latents."""
