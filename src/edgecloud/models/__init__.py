"""Plain ``nn.Module`` builders: detection, action, similarity, segmentation, super-resolution."""
