"""model_store package."""
