"""Offline engines, one module each, chosen by ``offline_store: {type: ...}``."""
