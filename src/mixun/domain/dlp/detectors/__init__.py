"""One module per DLP detector; the numeric ones share the digit-run scanner in `digit_runs`."""
