"""The network: the feature-source record and the model it builds, the weights check, the
engines that run it, and int8 calibration."""
