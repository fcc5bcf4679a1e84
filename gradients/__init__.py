"""gradients package."""
