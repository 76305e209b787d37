"""Pictures of characters: diffusion backends, identity scoring, the gallery (issue 5)."""
