"""``ori-sim``: a simulated caller that phones a worker the way a carrier does, in real time.

It opens a media stream (Twilio, Exotel or the generic protocol), speaks scripted lines
with eSpeak NG, plays out what the bot sends like a phone (``clear`` drops buffered audio),
detects the bot's speech by energy, talks over the bot on cue, hangs up, and reports what
the caller experienced: pickup time, response latency per turn, and barge-in stop time.
"""
