"""The region simulator (`make simulate`): a discrete-event model of a region's day that drives
the desk's real services on a throw-away database with a moved clock. See simulate/README.md."""
