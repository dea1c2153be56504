"""File inspection (type from content, text extraction), secure packing and malware scanning."""
