"""Plain ``nn.Module`` builders: detectors now; action, similarity and super-resolution models later."""
