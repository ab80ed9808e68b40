"""Saved leaderboards; ranking logic arrives with the rankings issue."""
