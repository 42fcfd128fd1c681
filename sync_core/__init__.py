"""The shared kernel: envelope, codec, clocks, signatures, subjects, protocol names, errors."""
