"""Pure rules: no I/O, no frameworks, no settings; values come in as parameters."""
