"""Online backends, one module each, chosen by ``online_store: {type: ...}``."""
