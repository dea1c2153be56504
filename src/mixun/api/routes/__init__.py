"""Routes, one module per noun; each declares its permission through ``gate``."""
