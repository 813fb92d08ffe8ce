"""Landing → bronze → silver → gold: reading files, validation and quarantine, features, labels."""
