"""The Runespoor scenario (analytics-aware SR with a content-aware adaptive controller):
frames sent under the controller's configuration over an uplink trace, restored and
segmented on the server, replayed from a knob recording."""
