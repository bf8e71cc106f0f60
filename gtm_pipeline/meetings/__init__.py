"""Meetings: booking webhooks from Cal.com and Calendly in, journaled state changes out."""
