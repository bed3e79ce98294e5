"""One module per MongoDB collection group; the only modules that talk to motor."""
