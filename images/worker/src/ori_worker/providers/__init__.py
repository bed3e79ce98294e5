"""Speech and language providers: pipecat services chosen by the call's runtime config."""
