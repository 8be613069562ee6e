"""Stage 1: run the frozen backbone (`extract.backbones`) once over every split and cache its pooled features."""
