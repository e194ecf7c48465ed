"""How long a text may be."""

# About ten SMS parts: carriers refuse much longer. Staff messages longer than this are
# refused; a participant's longer text is kept whole and forwarded cut to this length.
MAX_BODY_LENGTH = 1600
