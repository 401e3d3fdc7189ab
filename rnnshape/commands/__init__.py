"""The commands: one module each, called by ``cli`` with the parsed arguments."""
