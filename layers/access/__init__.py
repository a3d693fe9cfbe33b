"""Access: accounts, the review and retention register, and disclosure rules."""
