"""Stage 2: research per prospect: raw sources, then the profile and the qualification rule."""
