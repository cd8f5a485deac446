"""The Clownfish scenario (Nigade et al., SEC 2020): edge-cloud symbiosis for action
recognition over sliding windows, replayed from recordings in idealised, timed and
similarity-trace modes."""
