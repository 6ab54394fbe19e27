"""Boards shared across hosts through labgrid's coordinator: places, reservations, locks."""
