"""Stage 3: outreach per prospect: drafts and context packs, the send step, replies and events."""
