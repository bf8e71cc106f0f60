"""Sending through Resend, the deliverability policy, the webhook receiver and reply parsing."""
