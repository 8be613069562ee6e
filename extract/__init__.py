"""Stage 1: run the frozen MobileNetV2 once over every split and cache its pooled features."""
