"""The model manifest and the provisioning of model files into the state directory."""
