"""Background loops a serving process runs, each given only what it needs: the sender,
the expiry sweeper, the multipart flusher, and the send rate limit they share."""
